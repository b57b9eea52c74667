"""Slowloris against syncwatch: STALLED connections each send the start of
a request and then one header byte every few seconds, while valid signed
webhooks are posted; reports how many valid ones got through, their
latency, and when the stalled connections were cut off.

Usage: python3 bench/slowloris.py [STALLED]   (run by bench/slowloris.sh)
"""
import asyncio
import hashlib
import hmac
import json
import sys
import time

HOST, PORT, SECRET = "127.0.0.1", 9650, b"bench-secret"
STALLED = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
FIXTURE = open("tests/fixtures/data-full.json", "rb").read()


async def stall(results):
    start = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(HOST, PORT)
        writer.write(b"POST /webhooks/railz HTTP/1.1\r\nHost: syncwatch\r\nX-Slow: a")
        await writer.drain()
        while True:
            try:
                data = await asyncio.wait_for(reader.read(1024), timeout=3)
                results.append(time.monotonic() - start)  # closed (or answered) by the server
                return
            except asyncio.TimeoutError:
                writer.write(b"a")  # one more byte: keep the header "alive"
                await writer.drain()
    except (ConnectionError, OSError):
        results.append(time.monotonic() - start)


async def valid(n):
    body = FIXTURE.replace(b"a3b4fc83-3e24-41aa-ba99-13cab09b0b7a", f"slowloris-{time.time_ns()}-{n}".encode())
    t = str(int(time.time() * 1000))
    signature = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    head = (
        f"POST /webhooks/railz HTTP/1.1\r\nHost: syncwatch\r\nContent-Type: application/json\r\n"
        f"Railz-Signature: t={t},v={signature}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    start = time.monotonic()
    reader, writer = await asyncio.open_connection(HOST, PORT)
    writer.write(head + body)
    await writer.drain()
    answer = await reader.read(1024)
    writer.close()
    return answer.split(b" ")[1].decode() if answer else "none", (time.monotonic() - start) * 1000


async def main():
    cut = []
    stalled = [asyncio.create_task(stall(cut)) for _ in range(STALLED)]
    await asyncio.sleep(1)
    answers = []
    for n in range(100):
        answers.append(await valid(n))
        await asyncio.sleep(0.05)
    await asyncio.wait(stalled, timeout=30)
    latencies = sorted(ms for status, ms in answers if status == "200")
    print(json.dumps({
        "stalled_connections": STALLED,
        "valid_sent": len(answers),
        "valid_200": len(latencies),
        "valid_p50_ms": round(latencies[len(latencies) // 2], 2) if latencies else None,
        "valid_max_ms": round(latencies[-1], 2) if latencies else None,
        "stalled_cut_off": len(cut),
        "cut_off_after_s": round(sorted(cut)[len(cut) // 2], 1) if cut else None,
    }))


asyncio.run(main())
