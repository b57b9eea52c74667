"""A storm against syncwatch: CONNECTIONS connections fail within SPREAD
seconds (one signed webhook each). A Slack stand-in on 127.0.0.1:9798
answers 200 `ok` and records each message. Reports how many messages
Slack received, how many alerts they account for (named, or counted by a
digest), the largest message in blocks and characters per section, and the
time from the first webhook to the last alert being accounted for.

Usage: python3 bench/storm.py [CONNECTIONS] [SPREAD]   (run by bench/storm.sh)
"""
import asyncio
import hashlib
import hmac
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

CONNECTIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
SPREAD = float(sys.argv[2]) if len(sys.argv) > 2 else 30
SECRET = b"bench-secret"
received = []


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        received.append((time.time(), body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def accounted(body):
    text = json.dumps(body)
    digest = re.search(r"syncwatch digest \u00b7 (\d+) alert", body.get("blocks", [{}])[0].get("text", {}).get("text", ""))
    return int(digest.group(1)) if digest else 1


async def post(i, start):
    await asyncio.sleep(start + SPREAD * i / CONNECTIONS - time.time())
    body = json.dumps({"data": {"event": "data", "connectionId": f"CON-storm-{i}", "businessName": f"Biz {i}",
                                "serviceName": ["quickbooks", "xero"][i % 2], "sandbox": False,
                                "requests": [{"request": "bills", "status": "failed"}]},
                       "requestId": f"storm-{time.time_ns()}-{i}"}).encode()
    t = str(int(time.time() * 1000))
    sig = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    reader, writer = await asyncio.open_connection("127.0.0.1", 9650)
    writer.write(f"POST /webhooks/railz HTTP/1.1\r\nHost: s\r\nRailz-Signature: t={t},v={sig}\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    await writer.drain()
    answer = await reader.read(100)
    writer.close()
    return answer.split(b" ")[1]


async def main():
    threading.Thread(target=HTTPServer(("127.0.0.1", 9798), Sink).serve_forever, daemon=True).start()
    start = time.time() + 0.5
    statuses = await asyncio.gather(*(post(i, start) for i in range(CONNECTIONS)))
    while sum(accounted(b) for _, b in received) < CONNECTIONS and time.time() < start + SPREAD + 180:
        await asyncio.sleep(0.2)
    done = max(t for t, _ in received)
    in_first_minute = sum(1 for t, _ in received if t < start + 60)
    sections = [len(b["text"]["text"]) for _, m in received for b in m.get("blocks", []) if "text" in b and "text" in b["text"]]
    print(json.dumps({
        "connections": CONNECTIONS, "spread_s": SPREAD,
        "accepted": sum(1 for s in statuses if s == b"200"),
        "messages": len(received), "messages_in_first_minute": in_first_minute,
        "alerts_accounted": sum(accounted(b) for _, b in received),
        "max_blocks": max(len(b.get("blocks", [])) for _, b in received),
        "max_section_chars": max(sections),
        "first_event_to_last_accounted_s": round(done - start, 1),
    }))


asyncio.run(main())
