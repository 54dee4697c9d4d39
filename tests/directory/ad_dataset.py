"""The directory dataset shaped like Active Directory (tests/directory/ad.schema), for the
``ad`` preset: sAMAccountName, userPrincipalName, proxyAddresses, userAccountControl,
objectGUID, thumbnailPhoto, msExch* resource attributes, AD-style DNs and referrals.

``OU=Staff`` holds exactly :mod:`tests.directory.dataset` (so the shared suite runs on it
unchanged); ``OU=Lab`` holds the extra entries of the AD-specific tests.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field

from tests.directory import dataset
from tests.directory.slapd import ssha

DOMAIN_DN = "DC=corp,DC=example,DC=test"   # the AD domain corp.example.test (NetBIOS CORP)
STAFF = f"OU=Staff,{DOMAIN_DN}"
LAB = f"OU=Lab,{DOMAIN_DN}"
UPN_SUFFIX = "corp.example.test"
GUID_NS = uuid.UUID("6f1d1c1e-8d8e-4d55-9a53-0c2f0b6b9a11")

NORMAL_ACCOUNT = 0x200
ACCOUNTDISABLE = 0x2
DONT_EXPIRE_PASSWORD = 0x10000
WORKSTATION_TRUST_ACCOUNT = 0x1000
RECIPIENT_TYPE = {"user": 1, "room": 16, "equipment": 32}   # msExchRecipientTypeDetails
ALICE_UPN = "Alice.Liddell@corp.example.test"
ALICE_X500 = ("X500:/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
              "/cn=Recipients/cn=alice")
DAVE_LEGACY_DN = ("/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
                  "/cn=Recipients/cn=dave")


def guid(key: str) -> uuid.UUID:
    """The objectGUID of an entry (stable per test key)."""
    return uuid.uuid5(GUID_NS, key)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def user_dn(u: dataset.U) -> str:
    return f"CN={u.display},OU=People,{STAFF}"


def group_dn(address: str) -> str:
    return f"CN={address.split('@', maxsplit=1)[0]},OU=Groups,{STAFF}"


def contact_dn(display: str) -> str:
    return f"CN={display},OU=Contacts,{STAFF}"


@dataclass
class LabUser:
    """An AD-specific extra under OU=Lab."""

    sam: str
    display: str
    mail: str
    proxy: list[str] = field(default_factory=list)
    uac: int = NORMAL_ACCOUNT
    password: str | None = None
    upn: str | None = None
    classes: tuple[str, ...] = ("top", "person", "organizationalPerson", "user")
    category: str = "person"

    @property
    def dn(self) -> str:
        return f"CN={self.display},{LAB}"


LAB_USERS = [
    # mail is stale: Exchange keeps the primary in proxyAddresses (SMTP:)
    LabUser("frank", "Frank Lab", "f.old@example.test",
            ["smtp:fr@example.test", "SMTP:Frank@Example.test", "X400:c=US;a= ;p=Contoso;s=Lab",
             "sip:frank@example.test", "smtp:not an address"], password="frank-pw"),
    LabUser("gina", "Gina Disabled", "gina@example.test", ["SMTP:gina@example.test"],
            uac=NORMAL_ACCOUNT | ACCOUNTDISABLE | DONT_EXPIRE_PASSWORD, password="gina-pw"),
    LabUser("hank", "Hank Enabled", "hank@example.test", ["SMTP:hank@example.test"],
            uac=NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD, password="hank-pw"),
    # Samba AD without the Exchange schema: mail only, no proxyAddresses
    LabUser("judy", "Judy Samba", "judy@example.test", password="judy-pw"),
    LabUser("grace", "Grace Hopper", "grace@example.test", ["SMTP:grace@example.test"],
            password="grace-pw"),
    # a computer account with a mail attribute: objectClass=user but not a person
    LabUser("WS01$", "WS01", "ws01@example.test", ["SMTP:ws01@example.test"],
            uac=WORKSTATION_TRUST_ACCOUNT, password="machine-pw",
            classes=("top", "person", "organizationalPerson", "user", "computer"),
            category="computer"),
]
LAB_BY_SAM = {u.sam: u for u in LAB_USERS}


def _user_entry(u: dataset.U) -> list[str]:
    upn = ALICE_UPN if u.key == "alice" else f"{u.uid}@{UPN_SUFFIX}"
    proxy = [f"SMTP:{u.address}"] + [f"smtp:{a}" for a in u.aliases]
    if u.key == "alice":
        proxy = [f"SMTP:{u.address}", "smtp:al@example.test", "smtp:A.Liddell@Example.ORG",
                 ALICE_X500, "SIP:alice.sip@example.test"]
    lines = [f"dn: {user_dn(u)}", "objectClass: top", "objectClass: person",
             "objectClass: organizationalPerson", "objectClass: user",
             "objectClass: groupwareUser", f"cn: {u.display}", f"displayName: {u.display}",
             f"sn: {u.surname or u.display}", f"sAMAccountName: {u.uid}",
             f"userPrincipalName: {upn}", f"mail: {u.address}", "objectCategory: person",
             f"objectGUID:: {b64(guid(u.key).bytes_le)}",
             f"userAccountControl: {NORMAL_ACCOUNT | (0 if u.enabled else ACCOUNTDISABLE)}",
             f"msExchRecipientTypeDetails: {RECIPIENT_TYPE[u.kind]}"]
    lines += [f"proxyAddresses: {p}" for p in proxy]
    if u.given:
        lines.append(f"givenName: {u.given}")
    if u.title:
        lines.append(f"title: {u.title}")
    lines += [f"gwDisabledFeature: {f}" for f in u.disabled_features]
    if u.hidden:
        lines.append("msExchHideFromAddressLists: TRUE")
    if u.capacity:
        lines.append(f"msExchResourceCapacity: {u.capacity}")
    if u.manager:
        lines.append(f"manager: {user_dn(dataset.USER_BY_KEY[u.manager])}")
    if u.photo:
        lines.append(f"thumbnailPhoto:: {b64(u.photo)}")
    if u.key == "dave":
        lines.append(f"legacyExchangeDN: {DAVE_LEGACY_DN}")
    if u.key in dataset.PASSWORDS:
        lines.append(f"userPassword: {ssha(dataset.PASSWORDS[u.key])}")
    return lines


def _lab_entry(u: LabUser) -> list[str]:
    lines = [f"dn: {u.dn}", *(f"objectClass: {c}" for c in u.classes), f"cn: {u.display}",
             f"sn: {u.display}", f"displayName: {u.display}", f"sAMAccountName: {u.sam}",
             f"userPrincipalName: {u.upn or u.sam.lower() + '@' + UPN_SUFFIX}",
             f"mail: {u.mail}", f"objectCategory: {u.category}",
             f"objectGUID:: {b64(guid('lab-' + u.sam).bytes_le)}",
             f"userAccountControl: {u.uac}"]
    lines += [f"proxyAddresses: {p}" for p in u.proxy]
    if "computer" in u.classes:
        lines.append(f"dNSHostName: {u.sam.rstrip('$').lower()}.{UPN_SUFFIX}")
    if u.password:
        lines.append(f"userPassword: {ssha(u.password)}")
    return lines


def ldif() -> str:
    """The AD tree, to load under the harness suffix (dc=example,dc=test)."""
    out = [[f"dn: {DOMAIN_DN}", "objectClass: domain", "dc: corp"]]
    for ou, parent in (("Staff", DOMAIN_DN), ("People", STAFF), ("Groups", STAFF),
                       ("Contacts", STAFF), ("Lab", DOMAIN_DN), ("Alumni", LAB)):
        out.append([f"dn: OU={ou},{parent}", "objectClass: organizationalUnit", f"ou: {ou}"])
    # What AD answers from a domain root: continuation references to the application
    # partitions and child domains, which a client must neither chase nor choke on.
    for dc, host in (("DomainDnsZones", "dc1.corp.example.test"),
                     ("emea", "emea.corp.example.test")):
        out.append([f"dn: DC={dc},{DOMAIN_DN}", "objectClass: referral",
                    "objectClass: extensibleObject", f"dc: {dc}",
                    f"ref: ldap://{host}/DC={dc},{DOMAIN_DN}"])
    out += [_user_entry(u) for u in dataset.USERS]
    for address, display, given, surname in dataset.CONTACTS:
        out.append([f"dn: {contact_dn(display)}", "objectClass: top", "objectClass: person",
                    "objectClass: organizationalPerson", "objectClass: contact",
                    f"cn: {display}", f"displayName: {display}", f"givenName: {given}",
                    f"sn: {surname}", f"mail: {address}", f"proxyAddresses: SMTP:{address}",
                    "objectCategory: person", f"objectGUID:: {b64(guid(address).bytes_le)}"])
    for address, (display, members) in dataset.GROUPS.items():
        lines = [f"dn: {group_dn(address)}", "objectClass: top", "objectClass: group",
                 f"cn: {address.split('@')[0]}", f"sAMAccountName: {address.split('@')[0]}",
                 f"displayName: {display}", f"mail: {address}",
                 f"proxyAddresses: SMTP:{address}", "groupType: 8",  # universal distribution
                 "objectCategory: group", f"objectGUID:: {b64(guid(address).bytes_le)}"]
        for m in members:
            if m in dataset.USER_BY_KEY:
                lines.append(f"member: {user_dn(dataset.USER_BY_KEY[m])}")
            elif m in dataset.GROUPS:
                lines.append(f"member: {group_dn(m)}")
            else:
                contact = next(c for c in dataset.CONTACTS if c[0] == m)
                lines.append(f"member: {contact_dn(contact[1])}")
        out.append(lines)
    out += [_lab_entry(u) for u in LAB_USERS]
    return "\n\n".join("\n".join(e) for e in out) + "\n"


INDEXES = """index sAMAccountName,userPrincipalName,proxyAddresses eq,sub
index objectGUID eq
index objectCategory eq
index legacyExchangeDN eq
"""
