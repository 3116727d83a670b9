#!/usr/bin/env python3
"""Writes the benchmark config: N servers with M locations each (default 10,000 x 5).

Usage: gen_bench_config.py OUT_FILE [SERVERS] [LOCATIONS_PER_SERVER]
"""
import sys


def main():
    out = sys.argv[1]
    servers = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    per = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    with open(out, "w") as f:
        f.write("worker_processes auto;\nevents {\n    worker_connections 1024;\n}\nhttp {\n")
        f.write("    upstream backend {\n        server 192.0.2.10:8080 weight=2;\n"
                "        server 192.0.2.11:8080;\n        keepalive 16;\n    }\n")
        for s in range(servers):
            port = 10000 + s % 50000
            f.write("    server {\n")
            f.write(f"        listen 127.0.0.1:{port};\n")
            f.write(f"        server_name s{s}.example.com *.s{s}.example.net;\n")
            f.write("        proxy_set_header Host $host;\n")
            for l in range(per):
                f.write(f"        location /app{l}/ {{\n")
                f.write("            proxy_pass http://backend;\n")
                f.write(f"            proxy_read_timeout {l + 1}s;  # tuned\n")
                f.write("        }\n")
            f.write("    }\n")
        f.write("}\n")


if __name__ == "__main__":
    main()
