"""``groupware device list|show|wipe|remove``: ActiveSync devices of the users.

A device is named by its owner (login name, address or ``user:<id>``) and its
DeviceId. ``wipe`` asks the device to erase itself (``--account-only``: only this
account's data, EAS 16.1) the next time it connects; it travels through the normal
two-phase Provision, and ``show`` tells when the device acknowledged it.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from groupware.cli import EXIT_OK
from groupware.cli.common import command_parser
from groupware.cli.dirtools import emit, find_user, run, say
from groupware.errors import NotFound


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = command_parser(sub, "device", "ActiveSync devices: list, show, wipe, remove")
    dsub = p.add_subparsers(dest="device_command", metavar="ACTION")
    dsub.required = True

    ls = command_parser(dsub, "list", "devices of one user or of everybody")
    ls.add_argument("user", nargs="?", help="login name, address or user:<id>")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=_list)

    sh = command_parser(dsub, "show", "one device: model, policy, wipe state, last contact")
    sh.add_argument("user")
    sh.add_argument("device_id")
    sh.add_argument("--json", action="store_true", help="machine-readable output")
    sh.set_defaults(func=_show)

    wp = command_parser(dsub, "wipe", "ask the device to wipe itself at its next contact")
    wp.add_argument("user")
    wp.add_argument("device_id")
    wp.add_argument("--account-only", action="store_true",
                    help="remove only this account's data (EAS 16.1 devices)")
    wp.add_argument("--cancel", action="store_true", help="withdraw a pending wipe")
    wp.set_defaults(func=_wipe)

    rm = command_parser(dsub, "remove", "forget a device and its sync state (it syncs "
                        "from scratch, after Provision, when it comes back)")
    rm.add_argument("user")
    rm.add_argument("device_id")
    rm.set_defaults(func=_remove)


def _when(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def _device(server: Any, user_ref: str, device_id: str) -> tuple[Any, Any]:
    user = await find_user(server, user_ref)
    handler = server.get_activesync()
    device = await handler.states.get_device(int(user.user_id), device_id)
    if device is None:
        raise NotFound(f"{user.address} has no device {device_id!r}")
    return user, device


def _row(address: str, d: Any) -> dict[str, Any]:
    return {"user": address, "device_id": d.device_id, "type": d.device_type,
            "model": d.info.get("Model", ""), "version": d.protocol_version,
            "provisioned": d.policy_key != 0, "wipe": d.wipe_state,
            "last_seen": _when(d.last_seen), "last_command": d.last_command}


def _list(args: argparse.Namespace) -> int:
    async def main(server: Any) -> list[dict[str, Any]]:
        handler = server.get_activesync()
        directory = server.get_directory()
        user_id = None
        if args.user:
            user_id = int((await find_user(server, args.user)).user_id)
        rows = []
        for d in await handler.list_devices(user_id):
            owner = await directory.get_user(d.user_id)
            rows.append(_row(owner.address if owner else f"user:{d.user_id}", d))
        return rows

    rows = run(args, main)
    if not rows and not args.json:
        say("no devices")
    else:
        emit(rows, args.json)
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    async def main(server: Any) -> dict[str, Any]:
        user, d = await _device(server, args.user, args.device_id)
        out = _row(user.address, d)
        out.update({"user_agent": d.user_agent, "friendly_name": d.info.get("FriendlyName", ""),
                    "os": d.info.get("OS", ""), "imei": d.info.get("IMEI", ""),
                    "phone_number": d.info.get("PhoneNumber", ""),
                    "first_seen": _when(d.first_seen),
                    "wipe_requested": _when(d.wipe_requested_at),
                    "wipe_acknowledged": _when(d.wipe_acknowledged_at)})
        return out

    emit(run(args, main), args.json)
    return EXIT_OK


def _wipe(args: argparse.Namespace) -> int:
    async def main(server: Any) -> str:
        user, d = await _device(server, args.user, args.device_id)
        handler = server.get_activesync()
        if args.cancel:
            await handler.cancel_wipe(d)
            return f"wipe of {d.device_id} ({user.address}) withdrawn"
        await handler.request_wipe(d, account_only=args.account_only)
        kind = "account-only wipe" if args.account_only else "remote wipe"
        return f"{kind} of {d.device_id} ({user.address}) requested; sent at its next contact"

    say(run(args, main))
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    async def main(server: Any) -> str:
        user, d = await _device(server, args.user, args.device_id)
        await server.get_activesync().remove_device(d)
        return f"device {d.device_id} of {user.address} removed"

    say(run(args, main))
    return EXIT_OK
