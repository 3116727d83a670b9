#!/usr/bin/env python3
"""Extract nginx's directive table (ngx_command_t arrays) from an nginx source tree.

Usage: gen_directives.py NGINX_SRC_DIR > nginx-conf/src/directives.tsv

Each output line: name, module, module type, type flags (symbolic, "|"-joined),
and 1 if the directive's handler can answer "is duplicate" (0 otherwise).
The source of truth is nginx's own C sources (facts, not code).
"""
import os
import re
import sys

CMD_ARRAY = re.compile(r"static\s+ngx_command_t\s+(\w+)\[\]\s*=\s*\{(.*?)ngx_null_command", re.S)
CMD = re.compile(r"\{\s*ngx_string\(\"([^\"]+)\"\)\s*,\s*([^,]+?)\s*,\s*(\w+)\s*,", re.S)
MODULE = re.compile(r"ngx_module_t\s+(\w+)\s*=\s*\{\s*NGX_MODULE_V1\s*,\s*&?(\w+)\s*,\s*(\w+)\s*,\s*(\w+)", re.S)
HANDLER = re.compile(r"^(\w+)\(ngx_conf_t \*cf,\s*ngx_command_t \*cmd,\s*void \*conf\)\n\{(.*?)\n\}", re.S | re.M)
COMMENT = re.compile(r"/\*.*?\*/", re.S)


# Handlers that answer "is duplicate" only in some cases (the same zone twice,
# "off" mixed with rules): their directives may repeat in a block.
CONDITIONAL_DUPLICATE = {
    "ngx_http_limit_req", "ngx_http_limit_conn", "ngx_stream_limit_conn",
    "ngx_http_proxy_redirect", "ngx_http_proxy_cookie_domain",
    "ngx_http_proxy_cookie_path", "ngx_http_proxy_cookie_flags",
    "ngx_http_mirror", "ngx_http_v2_push",
}


def main(root):
    rows = []
    dup_handlers = set()
    files = []
    for dirpath, _, names in os.walk(os.path.join(root, "src")):
        for name in names:
            if name.endswith(".c"):
                files.append(os.path.join(dirpath, name))
    files.sort()
    texts = {f: COMMENT.sub("", open(f, encoding="latin-1").read()) for f in files}
    for text in texts.values():
        for m in HANDLER.finditer(text):
            if '"is duplicate"' in m.group(2) and m.group(1) not in CONDITIONAL_DUPLICATE:
                dup_handlers.add(m.group(1))
    for f, text in texts.items():
        modules = {m.group(3): (m.group(1), m.group(4)) for m in MODULE.finditer(text)}
        for arr in CMD_ARRAY.finditer(text):
            if arr.group(1) not in modules:
                continue
            module, mtype = modules[arr.group(1)]
            for c in CMD.finditer(arr.group(2)):
                flags = "|".join(p.strip() for p in c.group(2).split("|"))
                handler = c.group(3)
                dup = handler in dup_handlers or handler in (
                    "ngx_conf_set_flag_slot", "ngx_conf_set_str_slot",
                    "ngx_conf_set_num_slot", "ngx_conf_set_size_slot",
                    "ngx_conf_set_off_slot", "ngx_conf_set_msec_slot",
                    "ngx_conf_set_sec_slot", "ngx_conf_set_bufs_slot",
                    "ngx_conf_set_enum_slot", "ngx_conf_set_path_slot")
                rows.append((c.group(1), module, mtype, flags, "1" if dup else "0"))
    for row in rows:
        print("\t".join(row))


if __name__ == "__main__":
    main(sys.argv[1])
