"""Writes the rules files of bench/ingest.sh into DIR: rules-N.yaml and
rules-N-signed.yaml for each N given, and rules-notify.yaml."""
import sys

# One `when` a line, shared with benches/engine.rs; the first fires on the
# fixture, the others do not.
WHENS = [line.strip() for line in open("bench/whens.txt") if line.strip()]


def config(directory, name, rules, signed, channels=""):
    security = "security:\n  signing_secret: bench-secret\n" if signed else ""
    text = (
        f"server:\n  listen: 127.0.0.1:9650\nstorage:\n  path: {directory}/{name}.db\n"
        f"{security}{channels}rules:\n{rules}"
    )
    with open(f"{directory}/{name}.yaml", "w") as out:
        out.write(text)


def main():
    directory, counts = sys.argv[1], [int(n) for n in sys.argv[2:]]
    for n in counts:
        rules = "".join(
            f"  - name: rule-{i}\n    notify: []\n    when: {WHENS[0] if i == 0 else WHENS[1 + (i - 1) % (len(WHENS) - 1)]}\n"
            for i in range(n)
        )
        config(directory, f"rules-{n}", rules, signed=False)
        config(directory, f"rules-{n}-signed", rules, signed=True)
    channels = (
        # Digests off and every match a message: the run measures the
        # latency of each notification, not the digest window.
        "channels:\n  sink:\n    slack: { webhook_url: 'http://127.0.0.1:9799/hook', min_interval: 0s }\n    digest: off\n"
        "defaults:\n  repeat_interval: 0s\n"
    )
    notify = f"  - name: failed\n    notify: [sink]\n    when: {WHENS[0]}\n"
    config(directory, "rules-notify", notify, signed=False, channels=channels)


main()
