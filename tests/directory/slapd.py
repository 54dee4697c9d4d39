"""A private OpenLDAP server for tests and benchmarks: Debian's slapd, started from a
temp dir on a free loopback port with our schema (conf/ldap/groupware.schema).

Non-paged searches are limited to 500 entries (like AD's 1,000), so code that forgets
the paged results control fails here too.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "conf" / "ldap" / "groupware.schema"
SUFFIX = "dc=example,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "root-secret"
SERVICE_DN = f"cn=service,{SUFFIX}"
SERVICE_PW = "service-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ssha(password: str) -> str:
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def slapd_binary() -> str:
    for candidate in ("/usr/sbin/slapd", shutil.which("slapd")):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("slapd is not installed (apt-get install slapd ldap-utils)")


class Slapd:
    def __init__(self, workdir: Path, *, tls: bool = False, schemas: tuple[Path, ...] = (),
                 global_conf: str = "", db_conf: str = "") -> None:
        """``schemas`` are included after ours; ``global_conf`` / ``db_conf`` are extra
        slapd.conf lines for the global and the database section."""
        self.schemas = schemas
        self.global_conf = global_conf
        self.db_conf = db_conf
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.tls = tls
        self.ca_file: Path | None = None
        self.conf = self.dir / "slapd.conf"
        self.pidfile = self.dir / "slapd.pid"

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def _write_conf(self) -> None:
        (self.dir / "db").mkdir(exist_ok=True)
        tls = ""
        if self.tls:
            cert, key = self._make_cert()
            tls = f"TLSCertificateFile {cert}\nTLSCertificateKeyFile {key}\n"
        schemas = "\n".join(f"include /etc/ldap/schema/{n}.schema"
                            for n in ("core", "cosine", "inetorgperson", "nis", "misc"))
        self.conf.write_text(f"""{schemas}
include {SCHEMA}
{"".join(f"include {p}{chr(10)}" for p in self.schemas)}modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {self.pidfile}
argsfile {self.dir / 'slapd.args'}
loglevel none
{tls}
{self.global_conf}
sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited
database mdb
maxsize 104857600
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {self.dir / 'db'}
index objectClass eq
index entryUUID eq
index uid,mail eq,sub
index mailLocalAddress eq
index gwAlias eq,sub
index cn,sn,givenName,displayName eq,sub
index gwLegacyExchangeDN eq
index member eq
access to attrs=userPassword by self read by anonymous auth by * none
access to * by dn.exact="{SERVICE_DN}" read by self read by * none
{self.db_conf}
""")

    def _make_cert(self) -> tuple[Path, Path]:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        cert_path, key_path = self.dir / "cert.pem", self.dir / "key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        self.ca_file = cert_path
        return cert_path, key_path

    def load(self, ldif: str) -> None:
        """slapadd entries (server stopped) — the fast way to load a tree."""
        path = self.dir / "load.ldif"
        path.write_text(ldif)
        subprocess.run(["/usr/sbin/slapadd", "-q", "-f", str(self.conf), "-l", str(path)],
                       check=True, capture_output=True, timeout=300)

    def setup(self, ldif: str) -> None:
        self._write_conf()
        self.load(base_ldif() + "\n" + ldif)

    def start(self) -> None:
        urls = self.uri + "/"
        if self.tls_port:
            urls += f" ldaps://127.0.0.1:{self.tls_port}/"
        subprocess.run([slapd_binary(), "-f", str(self.conf), "-h", urls], check=True,
                       capture_output=True, timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not start listening")

    def stop(self) -> None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)

    def modify(self, ldif: str) -> None:
        subprocess.run(["ldapmodify", "-x", "-H", self.uri, "-D", ROOT_DN, "-w", ROOT_PW],
                       input=ldif, text=True, check=True, capture_output=True, timeout=30)


def base_ldif() -> str:
    return f"""dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: {SERVICE_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: service
userPassword: {ssha(SERVICE_PW)}

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: ou=contacts,{SUFFIX}
objectClass: organizationalUnit
ou: contacts
"""
