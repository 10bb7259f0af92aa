#!/usr/bin/env python3
"""An external Breakglass connector for MariaDB (protocol 1, see ../PROTOCOL.md).

A tenant is a database. Each of its managed groups is a MariaDB role holding the privileges
its mapping names on that database (`SELECT`, `INSERT`, ..., or `ALL PRIVILEGES`). An account
is a user `NAME`@`%` whose default role is a bundle role of its own; a grant makes the group
role a member of the bundle, so one login holds every group it was granted, on every tenant,
at once (MariaDB activates one role per session, and roles granted to that role come with it).
The bundle's name, `bgb_<platform digest>_<account digest>`, marks the account as this
platform's. Passwords arrive as mysql_native_password hashes only; MariaDB cannot end a login
at an instant, so Breakglass locks the account at the credential's end.

Settings: host, port (3306), user, password (an account with CREATE USER, CREATE ROLE and
GRANT OPTION on the tenants' databases), and optionally socket.

Requires PyMySQL (pip install pymysql).
"""

import hashlib
import json
import re
import sys

import pymysql

PRIVILEGES = {
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "INDEX", "ALTER", "REFERENCES",
    "CREATE VIEW", "SHOW VIEW", "TRIGGER", "EXECUTE", "CREATE TEMPORARY TABLES", "LOCK TABLES",
    "ALL PRIVILEGES", "ALL",
}
# What a role holds when the platform's mapping names only the role (Breakglass's default).
DEFAULTS = {
    "reader": ["SELECT"],
    "user": ["SELECT", "INSERT", "UPDATE", "DELETE"],
    "admin": ["ALL PRIVILEGES"],
}
# Client-side errors of a connection that is gone (PyMySQL: CR_* codes).
CONNECTION_LOST = {2003, 2006, 2013, 2014, 2055}
NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,80}$")
DATABASE = re.compile(r"^[A-Za-z0-9_$]{1,64}$")


class Failure(Exception):
    """An error answer: kind is unreachable, refused or invalid."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def digest(text, n):
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def parse_mapping(mapping):
    if mapping.strip().lower() in DEFAULTS:
        return DEFAULTS[mapping.strip().lower()]
    privileges = [p.strip().upper() for p in mapping.split(",") if p.strip()]
    if not privileges:
        raise Failure("invalid", "a MariaDB mapping names privileges, such as 'SELECT, INSERT'")
    for p in privileges:
        if p not in PRIVILEGES:
            raise Failure("invalid", f"'{p[:40]}' is not a database privilege this connector grants")
    return privileges


def checked_name(name):
    if not NAME.match(name):
        raise Failure("invalid", f"'{name[:80]}' is not a name this connector accepts")
    return name


class MariaDB:
    def __init__(self):
        self.platform = None
        self.settings = {}
        self.conn = None

    # -- the connection ------------------------------------------------------------------------

    def db(self):
        if self.conn is None:
            s = self.settings
            try:
                self.conn = pymysql.connect(
                    host=s.get("host", "127.0.0.1"),
                    port=int(s.get("port", "3306")),
                    user=s.get("user", "root"),
                    password=s.get("password", ""),
                    unix_socket=s.get("socket") or None,
                    autocommit=True,
                    connect_timeout=5,
                    read_timeout=20,
                    write_timeout=20,
                )
            except pymysql.err.OperationalError as e:
                code = e.args[0] if e.args else 0
                # 1045: access denied (the settings are wrong); anything else: not reachable.
                raise Failure("invalid" if code == 1045 else "unreachable", f"cannot connect: {e.args[-1]}")
        return self.conn

    def run(self, sql, args=()):
        try:
            with self.db().cursor() as c:
                c.execute(sql, args)
                return c.fetchall()
        except pymysql.err.MySQLError as e:
            code = e.args[0] if e.args and isinstance(e.args[0], int) else 0
            if code in CONNECTION_LOST or isinstance(e, pymysql.err.InterfaceError):
                self.conn = None
                raise Failure("unreachable", f"MariaDB: {e.args[-1]}")
            raise Failure("refused", f"MariaDB: {e.args[-1]}")

    # -- names ---------------------------------------------------------------------------------

    def bundle(self, account):
        return f"bgb_{digest(self.platform, 8)}_{digest(account, 16)}"

    def bundle_prefix(self):
        return f"bgb_{digest(self.platform, 8)}_"

    def accounts(self):
        """This platform's accounts: name -> (bundle, can_login)."""
        rows = self.run(
            "SELECT m.User, m.Role, JSON_VALUE(p.Priv, '$.account_locked') FROM mysql.roles_mapping m "
            "JOIN mysql.global_priv p ON p.User = m.User AND p.Host = m.Host "
            "WHERE m.Host = '%%' AND m.Role LIKE %s",
            (self.bundle_prefix().replace("_", "\\_") + "%",),
        )
        return {u: (r, locked not in ("true", "1", 1, True)) for (u, r, locked) in rows if r == self.bundle(u)}

    # -- operations ----------------------------------------------------------------------------

    def configure(self, req):
        self.platform = req["platform"]
        self.settings = dict(req["settings"])
        self.conn = None
        return {}

    def capabilities(self, _req):
        return {"protocol": 1, "credentials": True, "enforces_expiry": False, "ends_sessions": True,
                "lists_members": True}

    def health(self, _req):
        self.run("SELECT 1")
        return {}

    def check_mapping(self, req):
        parse_mapping(req["mapping"])
        return {}

    def ensure_tenant(self, req):
        t = req["tenant"]
        database = t["external_id"]
        if not DATABASE.match(database):
            raise Failure("invalid", f"'{database[:64]}' is not a database name this connector accepts")
        for g in t["groups"].values():
            role = checked_name(g["name"])
            privileges = ", ".join(parse_mapping(g["mapping"]))
            self.run(f"CREATE ROLE IF NOT EXISTS `{role}`")
            # Exactly the mapping: what the role held before on this database goes first.
            self.run(f"REVOKE ALL PRIVILEGES ON `{database}`.* FROM `{role}`") if self.holds(role, database) else None
            self.run(f"GRANT {privileges} ON `{database}`.* TO `{role}`")
        return {}

    def holds(self, role, database):
        return bool(self.run("SELECT 1 FROM mysql.db WHERE User = %s AND Host = '' AND Db = %s",
                             (role, database)))

    def me(self):
        """This connector's own user: creating a role grants it to its creator, as its admin."""
        (current,), = self.run("SELECT CURRENT_USER()")
        user, _, host = current.rpartition("@")
        return user, host

    def list(self, req):
        accounts = self.accounts()
        by_bundle = {b: name for name, (b, _) in accounts.items()}
        me = self.me()
        members = []
        for t in req["tenants"]:
            for g in t["groups"].values():
                rows = self.run("SELECT User, Host FROM mysql.roles_mapping WHERE Role = %s", (g["name"],))
                for user, host in rows:
                    if (user, host) == me:
                        continue
                    if host == "" and user in by_bundle:
                        members.append({"group": g["name"], "member": by_bundle[user]})
                    elif host == "" and user.startswith("bgb_"):
                        continue  # another platform's bundle
                    else:
                        # Granted by hand, to a user or a role: drift.
                        members.append({"group": g["name"], "member": f"{user}@{host}" if host else user})
        return {"members": members,
                "accounts": [{"name": n, "can_login": login} for n, (_, login) in sorted(accounts.items())]}

    def ensure_account(self, req):
        a = req["account"]
        name = checked_name(a["name"])
        bundle = self.bundle(name)
        exists = self.run("SELECT 1 FROM mysql.global_priv WHERE User = %s AND Host = '%%'", (name,))
        ours = name in self.accounts()
        if exists and not ours:
            raise Failure("refused", f"a user '{name}' exists that Breakglass did not make; it is left alone")
        self.run("CREATE USER IF NOT EXISTS %s@'%%' ACCOUNT LOCK", (name,))
        self.run(f"CREATE ROLE IF NOT EXISTS `{bundle}`")
        self.run(f"GRANT `{bundle}` TO %s@'%%'", (name,))
        self.run(f"SET DEFAULT ROLE `{bundle}` FOR %s@'%%'", (name,))
        login = a["login"]
        if login is None:
            was_open = ours and self.accounts()[name][1]
            self.run("ALTER USER %s@'%%' IDENTIFIED VIA mysql_native_password ACCOUNT LOCK", (name,))
            if was_open:
                self.end_sessions({"name": name})
        else:
            verifier = login["verifier"]
            if not re.match(r"^\*[0-9A-F]{40}$", verifier):
                raise Failure("invalid", "the verifier is not a mysql_native_password hash")
            self.run("ALTER USER %s@'%%' IDENTIFIED VIA mysql_native_password USING %s ACCOUNT UNLOCK",
                     (name, verifier))
        return {}

    def delete_account(self, req):
        name = checked_name(req["name"])
        if name not in self.accounts():
            return {}
        self.end_sessions({"name": name})
        self.run("DROP USER IF EXISTS %s@'%%'", (name,))
        self.run(f"DROP ROLE IF EXISTS `{self.bundle(name)}`")
        return {}

    def grant(self, req):
        group, member = checked_name(req["group"]), checked_name(req["member"])
        if member not in self.accounts():
            raise Failure("refused", f"there is no account '{member}' of this platform")
        self.run(f"GRANT `{group}` TO `{self.bundle(member)}`")
        return {}

    def revoke(self, req):
        group, member = req["group"], req["member"]
        held = self.run("SELECT User, Host FROM mysql.roles_mapping WHERE Role = %s", (group,))
        if member in self.accounts():
            targets = [(self.bundle(member), "")]
        else:
            user, _, host = member.partition("@") if "@" in member and not member.endswith("@") else (member, "", "")
            targets = [(u, h) for (u, h) in held if (u == member and h == "") or (u == user and h == host)]
        for user, host in targets:
            if (user, host) not in held:
                continue
            if host:
                self.run(f"REVOKE `{checked_name(group)}` FROM %s@%s", (user, host))
            else:
                self.run(f"REVOKE `{checked_name(group)}` FROM `{user}`")
        return {}

    def issue_credential(self, req):
        password = req["password"].encode()
        return {"verifier": "*" + hashlib.sha1(hashlib.sha1(password).digest()).hexdigest().upper()}

    def end_sessions(self, req):
        name = checked_name(req["name"])
        for (pid,) in self.run("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (name,)):
            try:
                self.run("KILL CONNECTION %s", (int(pid),))
            except Failure:
                pass  # it ended meanwhile
        return {}


def main():
    connector = MariaDB()
    for line in sys.stdin:
        try:
            req = json.loads(line)
        except ValueError:
            print("a request that is not JSON", file=sys.stderr)
            return 2
        rid = req.get("id")
        op = req.get("op", "")
        handler = getattr(connector, op, None) if not op.startswith("_") else None
        try:
            if handler is None or op in ("db", "run", "bundle", "bundle_prefix", "accounts", "holds", "me"):
                raise Failure("invalid", f"unknown request '{op[:40]}'")
            answer = {"v": 1, "id": rid, "ok": True, "result": handler(req)}
        except Failure as f:
            answer = {"v": 1, "id": rid, "ok": False, "error": {"kind": f.kind, "message": f.message}}
        except (KeyError, TypeError, ValueError) as e:
            answer = {"v": 1, "id": rid, "ok": False,
                      "error": {"kind": "invalid", "message": f"a malformed request: {type(e).__name__}"}}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
