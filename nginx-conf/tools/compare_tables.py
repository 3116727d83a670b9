#!/usr/bin/env python3
"""Compares nginx-conf's directive table (src/directives.tsv, from nginx 1.22.1)
with the one in the installed crossplane, ignoring NGX_DIRECT_CONF.

Usage (from nginx-conf/): python3 tools/compare_tables.py
"""
import crossplane.analyzer as cp

ARGS = {
    "NGX_CONF_NOARGS": cp.NGX_CONF_NOARGS, "NGX_CONF_TAKE1": cp.NGX_CONF_TAKE1,
    "NGX_CONF_TAKE2": cp.NGX_CONF_TAKE2, "NGX_CONF_TAKE3": cp.NGX_CONF_TAKE3,
    "NGX_CONF_TAKE4": cp.NGX_CONF_TAKE4, "NGX_CONF_TAKE5": cp.NGX_CONF_TAKE5,
    "NGX_CONF_TAKE6": cp.NGX_CONF_TAKE6, "NGX_CONF_TAKE7": cp.NGX_CONF_TAKE7,
    "NGX_CONF_TAKE12": cp.NGX_CONF_TAKE12, "NGX_CONF_TAKE13": cp.NGX_CONF_TAKE13,
    "NGX_CONF_TAKE23": cp.NGX_CONF_TAKE23, "NGX_CONF_TAKE123": cp.NGX_CONF_TAKE123,
    "NGX_CONF_TAKE1234": cp.NGX_CONF_TAKE1234, "NGX_CONF_BLOCK": cp.NGX_CONF_BLOCK,
    "NGX_CONF_FLAG": cp.NGX_CONF_FLAG, "NGX_CONF_ANY": cp.NGX_CONF_ANY,
    "NGX_CONF_1MORE": cp.NGX_CONF_1MORE, "NGX_CONF_2MORE": cp.NGX_CONF_2MORE,
}


def mask(flags):
    """crossplane's encoding of one nginx entry (its context bits are unique per module family)."""
    m = 0
    for f in flags:
        if f == "NGX_ANY_CONF":
            m |= cp.NGX_ANY_CONF | cp.NGX_HTTP_SIF_CONF | cp.NGX_HTTP_LIF_CONF | cp.NGX_HTTP_LMT_CONF
        elif f in ARGS:
            m |= ARGS[f]
        elif f != "NGX_DIRECT_CONF":
            m |= getattr(cp, f)
    return m


def main():
    ours = {}
    for line in open("src/directives.tsv"):
        name, _module, _mtype, flags, _dup = line.rstrip("\n").split("\t")
        ours.setdefault(name, set()).add(mask(flags.split("|")))
    theirs = {k: {m & ~cp.NGX_DIRECT_CONF for m in v} for k, v in cp.DIRECTIVES.items()}
    print("only in nginx 1.22.1:", sorted(set(ours) - set(theirs)))
    print("only in crossplane:", sorted(set(theirs) - set(ours)))
    for name in sorted(set(ours) & set(theirs)):
        if ours[name] != theirs[name]:
            print(f"{name}: nginx {sorted(map(hex, ours[name]))} crossplane {sorted(map(hex, theirs[name]))}")


if __name__ == "__main__":
    main()
