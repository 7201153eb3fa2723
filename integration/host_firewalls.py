"""Other firewalls in a test host's namespace, as berthd sees them (issue 15).

What berth adds to other tables is one rule per drop-policy forward/input base chain:
`meta mark & 0x04000000 == 0x04000000 accept comment "berth"`, always the chain's last
rule. These helpers read the namespace's ruleset (`nft -j`), find berth's rules, build
the drop-policy tables a user would write, and take snapshots of everything that is not
berth's, to show that berth changed nothing else.
"""
import json
import re
import subprocess

BERTH_MARK = 0x04000000
BERTH_COMMENT = "berth"
BERTH_TABLES = {("inet", "berth"), ("bridge", "berth")}
# The hand-written table of the tests (the "hf" prefix is this suite's own).
USER_TABLE = "hf_fw"


def ruleset(host):
    """The namespace's whole ruleset: the list under "nftables" of `nft -j list ruleset`."""
    return json.loads(host.sh("nft -j list ruleset").stdout or '{"nftables": []}')["nftables"]


def chains(host):
    """Every chain: {(family, table, name): chain object}."""
    return {(c["family"], c["table"], c["name"]): c for c in (i["chain"] for i in ruleset(host) if "chain" in i)}


def chain_rules(host, family, table, chain):
    """The rules of one chain, in order (each the `rule` object of `nft -j`)."""
    result = host.sh(f"nft -j list chain {family} {table} {chain}", check=False)
    if result.returncode != 0:
        return []
    return [i["rule"] for i in json.loads(result.stdout)["nftables"] if "rule" in i]


def _mark_match(expr):
    """Whether one expression is `meta mark & 0x04000000 == 0x04000000`."""
    match = expr.get("match")
    if not match:
        return False
    left = match.get("left", {})
    masked = left.get("&")
    if not masked or masked[0] != {"meta": {"key": "mark"}}:
        return False
    return masked[1] == BERTH_MARK and match.get("right") == BERTH_MARK


def is_berth_accept(rule):
    """Whether `rule` is berth's accept of the traffic its own table marked."""
    exprs = rule.get("expr", [])
    return (rule.get("comment") == BERTH_COMMENT and any(_mark_match(e) for e in exprs)
            and {"accept": None} in exprs)


def rules_with_comment(host, comment=BERTH_COMMENT):
    """Every rule outside berth's own tables carrying `comment`: [(family, table, chain, rule)]."""
    return [(r["family"], r["table"], r["chain"], r) for r in (i["rule"] for i in ruleset(host) if "rule" in i)
            if r.get("comment") == comment and (r["family"], r["table"]) not in BERTH_TABLES]


def drop_policy_chains(host):
    """Base chains at hook forward or input with policy drop, outside berth's tables, in
    the families berth looks at (ip, ip6, inet): [(family, table, chain)]."""
    return sorted(key for key, c in chains(host).items()
                  if c.get("hook") in ("forward", "input") and c.get("policy") == "drop"
                  and key[0] in ("ip", "ip6", "inet") and key[:2] not in BERTH_TABLES)


def berth_rule_is_last(host, family, table, chain):
    """Whether the chain's last rule is berth's accept, and it is there exactly once."""
    rules = chain_rules(host, family, table, chain)
    return bool(rules) and is_berth_accept(rules[-1]) and sum(map(is_berth_accept, rules)) == 1


def berth_rule_placement(host):
    """For every drop-policy chain: whether berth's rule is there once and last. A dict, so
    that a failed assertion shows which chain lacks it."""
    return {f"{f} {t} {c}": berth_rule_is_last(host, f, t, c) for f, t, c in drop_policy_chains(host)}


# --- firewalls a user writes --------------------------------------------------------

def forward_drop(host):
    """`iptables -P FORWARD DROP`: iptables-nft makes `table ip filter` with a FORWARD
    base chain whose policy is drop, as Debian 12's iptables (and Docker) do."""
    host.sh("iptables -P FORWARD DROP")


def user_drop_table(host, table=USER_TABLE):
    """A hand-written nft table as a strict admin writes it: forward and input base chains
    with policy drop and no rule at all (every path berth needs must come from its mark)."""
    host.sh(f"nft -f - <<'EOF'\n"
            f"table inet {table} {{\n"
            f"  chain forward {{ type filter hook forward priority 0; policy drop; }}\n"
            f"  chain input {{ type filter hook input priority 0; policy drop; }}\n"
            f"}}\nEOF")


# --- what is not berth's ----------------------------------------------------------

def _without_counters(value):
    """A JSON value with packet and byte counts zeroed (they move with any traffic)."""
    if isinstance(value, dict):
        return {k: (0 if k in ("packets", "bytes") else _without_counters(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_counters(v) for v in value]
    return value


def foreign_ruleset(host):
    """Everything in the ruleset that is not berth's: berth's tables and every rule with
    berth's comment left out, counters zeroed, handles kept (a rule berth rewrote would
    get a new one)."""
    kept = []
    for item in ruleset(host):
        if "metainfo" in item:
            continue
        (kind, obj), = item.items()
        if (obj.get("family"), obj.get("table", obj.get("name") if kind == "table" else None)) in BERTH_TABLES:
            continue
        if kind == "rule" and obj.get("comment") == BERTH_COMMENT:
            continue
        kept.append(_without_counters(item))
    return kept


_COUNTERS = re.compile(r"\[\d+:\d+\]")


def foreign_iptables_save(host):
    """`iptables-save` without berth's rules, its own comment lines and counters."""
    lines = host.sh("iptables-save").stdout.splitlines()
    return [_COUNTERS.sub("[0:0]", line) for line in lines
            if not line.startswith("#") and not re.search(r'--comment "?berth"?( |$)', line)]


def bridge_mentions(host, bridge):
    """Lines of the whole ruleset naming `bridge` (an interface name in any table)."""
    text = host.sh("nft list ruleset").stdout
    return [line.strip() for line in text.splitlines() if re.search(rf'"{re.escape(bridge)}"', line)]


# --- the real host ------------------------------------------------------------------

def real_host_firewall():
    """The real host's firewall as text: `nft list ruleset`, `iptables-save` (no counters)
    and `ufw status` where ufw exists. Tests compare it before and after: it must not move."""
    def out(cmd):
        result = subprocess.run(cmd, capture_output=True, text=True)
        return result.stdout + result.stderr
    return {
        "nft": out(["nft", "list", "ruleset"]),
        "iptables": _COUNTERS.sub("[0:0]", "\n".join(l for l in out(["iptables-save"]).splitlines()
                                                     if not l.startswith("#"))),
        # ufw status takes /run/ufw.lock: a tmpfs of its own keeps the lock file off the host.
        "ufw": out(["unshare", "-m", "--propagation", "private", "sh", "-c",
                    "mount -t tmpfs hf-ufw-run /run && exec ufw status"])
        if subprocess.run(["sh", "-c", "command -v ufw"], capture_output=True).returncode == 0 else "",
    }
