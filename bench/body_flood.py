"""Body flood against syncwatch: CONNECTIONS clients each declare a 4 MiB
body, send up to ~4 MiB of it and then stall, with a signature header that
is MODE: `unsigned` (none at all) or `forged` (well-formed and fresh, but
wrong, so only the body can prove it false). Meanwhile valid signed
webhooks are posted. Reports the daemon's resident memory (VmRSS) during
the flood, at its peak, and after the clients have gone.

Usage: python3 bench/body_flood.py PID [CONNECTIONS] [MODE]   (run by bench/body_flood.sh)
"""
import asyncio
import hashlib
import hmac
import json
import sys
import time

HOST, PORT, SECRET = "127.0.0.1", 9650, b"bench-secret"
PID = int(sys.argv[1])
CONNECTIONS = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
MODE = sys.argv[3] if len(sys.argv) > 3 else "forged"
DECLARED = 4 * 1024 * 1024
PIECE = b"x" * 65536
FIXTURE = open("tests/fixtures/data-full.json", "rb").read()


def rss_mb():
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return None


async def flood(results, hold):
    try:
        reader, writer = await asyncio.open_connection(HOST, PORT)
        signature = ""
        if MODE == "forged":
            signature = f"Railz-Signature: t={int(time.time() * 1000)},v={'00' * 32}\r\n"
        writer.write(
            f"POST /webhooks/railz HTTP/1.1\r\nHost: syncwatch\r\n{signature}"
            f"Content-Type: application/json\r\nContent-Length: {DECLARED}\r\n\r\n".encode()
        )
        sent = 0
        while sent < DECLARED - len(PIECE):
            writer.write(PIECE)
            try:
                await asyncio.wait_for(writer.drain(), timeout=2)
            except asyncio.TimeoutError:
                break  # the server reads no more: the rest waits in the kernel
            sent += len(PIECE)
        results.append(sent)
        await hold.wait()
        writer.transport.abort()
    except (ConnectionError, OSError):
        results.append(0)


async def valid(n):
    body = FIXTURE.replace(b"a3b4fc83-3e24-41aa-ba99-13cab09b0b7a", f"flood-{time.time_ns()}-{n}".encode())
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
    answer = await asyncio.wait_for(reader.read(1024), timeout=60)
    writer.close()
    return answer.split(b" ")[1].decode() if answer else "none", (time.monotonic() - start) * 1000


async def main():
    before = rss_mb()
    sent, hold = [], asyncio.Event()
    tasks = [asyncio.create_task(flood(sent, hold)) for _ in range(CONNECTIONS)]
    peak = before
    for _ in range(16):  # 8 s of flooding, sampled twice a second
        await asyncio.sleep(0.5)
        peak = max(peak, rss_mb())
    answers = [await valid(n) for n in range(5)]
    peak = max(peak, rss_mb())
    hold.set()
    await asyncio.wait(tasks, timeout=10)
    await asyncio.sleep(5)
    print(json.dumps({
        "connections": CONNECTIONS,
        "mode": MODE,
        "bytes_sent_mb": round(sum(sent) / 2**20),
        "rss_before_mb": before,
        "rss_peak_sampled_mb": peak,
        "rss_5s_after_mb": rss_mb(),
        "valid_answers": [status for status, _ in answers],
        "valid_max_ms": round(max(ms for _, ms in answers), 1),
    }))


asyncio.run(main())
