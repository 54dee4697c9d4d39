"""Content conversion benchmark: ``python -m bench.bench_convert``.

Targets (issue "Content conversion"): MIME -> MAPI for a typical 10 KB message at
>= 2,000 messages/s on one core, and a 25 MB message with attachments converted
with peak memory below 3x its size (measured with tracemalloc, which counts every
Python allocation made during the conversion).
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from email.message import EmailMessage
from email.policy import SMTP

from groupware.convert import iter_mime, mapi_to_mime, mime_to_mapi
from groupware.convert.ical import ical_to_messages, message_to_ical


def typical_message() -> bytes:
    """~10 KB: a reply with a few Received lines, text and HTML alternatives."""
    msg = EmailMessage()
    msg["From"] = "Alice Example <alice@example.com>"
    msg["To"] = "Bob <bob@example.org>, =?utf-8?q?J=C3=B6rg?= <joerg@example.de>"
    msg["Cc"] = "carol@example.net"
    msg["Subject"] = "Re: quarterly numbers - draft"
    msg["Date"] = "Mon, 3 Mar 2025 10:00:00 +0100"
    msg["Message-ID"] = "<abc.123@example.com>"
    msg["In-Reply-To"] = "<abc.122@example.com>"
    for i in range(6):
        msg["Received"] = (f"from relay{i}.example.com (relay{i}.example.com [192.0.2.{i}]) "
                           f"by mx.example.org with ESMTPS id abc{i}; "
                           f"Mon, 3 Mar 2025 10:00:0{i} +0100")
    text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 68
    msg.set_content(text)
    msg.add_alternative("<html><body><p>" + text.replace(". ", ".</p><p>") + "</p></body></html>",
                        subtype="html")
    return msg.as_bytes(policy=SMTP)


def big_message(size: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.com"
    msg["Subject"] = "big"
    msg.set_content("see attachments\n")
    per = size // 4 * 3 // 3
    for i in range(3):
        msg.add_attachment(os.urandom(per), maintype="application", subtype="octet-stream",
                           filename=f"part{i}.bin")
    return msg.as_bytes(policy=SMTP)


def rate(fn: object, arg: object, seconds: float) -> float:
    call = fn  # type: ignore[assignment]
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            call(arg)  # type: ignore[operator]
        count += 50
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--big-mb", type=int, default=25)
    args = parser.parse_args()

    data = typical_message()
    model = mime_to_mapi(data)
    mime_rate = rate(mime_to_mapi, data, args.seconds)
    out_rate = rate(mapi_to_mime, model, args.seconds)
    print(f"typical message: {len(data)} bytes")
    print(f"MIME -> MAPI: {mime_rate:,.0f} messages/s (target >= 2,000)")
    print(f"MAPI -> MIME: {out_rate:,.0f} messages/s")

    ical = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u\r\n"
            b"DTSTART;TZID=Europe/Berlin:20250303T100000\r\nDTEND;TZID=Europe/Berlin:"
            b"20250303T110000\r\nSUMMARY:Sync\r\nRRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=20\r\n"
            b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    appointment = ical_to_messages(ical)[0]
    events = rate(ical_to_messages, ical, 1.0)
    print(f"iCalendar -> MAPI (recurring, zoned): {events:,.0f} events/s")
    print(f"MAPI -> iCalendar: {rate(message_to_ical, appointment, 1.0):,.0f} events/s")

    big = big_message(args.big_mb << 20)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    converted = mime_to_mapi(big)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    print(f"big message: {len(big) / (1 << 20):.1f} MiB, {len(converted.attachments)} attachments,"
          f" {elapsed:.2f} s; allocated on top of the input at peak {peak / (1 << 20):.1f} MiB,"
          f" so input + conversion = {1 + peak / len(big):.2f}x its size (target < 3x)")
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    written = sum(len(chunk) for chunk in iter_mime(converted))
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    print(f"big message back to MIME (streamed, {written / (1 << 20):.1f} MiB):"
          f" peak {peak / (1 << 20):.1f} MiB above the model")


if __name__ == "__main__":
    main()
