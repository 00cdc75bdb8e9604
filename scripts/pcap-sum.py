#!/usr/bin/env python3
"""Sums a pcap of one node's interface (from scripts/bench-link.sh): per class of traffic
(mqtt, http, other), the frames, the bytes on the wire (Ethernet frames as the interface
counts them), the IP bytes (what a mobile carrier bills: no Ethernet header on a radio link)
and the TCP payload (what the programs wrote). Only the headers need capturing (-s 128).

usage: pcap-sum.py FILE MQTT_PORT HTTP_PORT [FROM_EPOCH TO_EPOCH]
prints one line per class: class frames wire_bytes ip_bytes payload_bytes"""
import struct
import sys


def main():
    path, mqtt, http = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lo = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    hi = float(sys.argv[5]) if len(sys.argv) > 5 else float("inf")
    sums = {k: [0, 0, 0, 0] for k in ("mqtt", "http", "other")}
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            raise SystemExit(f"{path}: not a pcap file")
        magic = struct.unpack("<I", head[:4])[0]
        order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            sec, frac, incl, orig = struct.unpack(order + "IIII", rec)
            data = f.read(incl)
            t = sec + frac / (1e9 if nano else 1e6)
            if not lo <= t < hi:
                continue
            cls, ip_len, payload = "other", orig, 0
            if len(data) >= 34 and data[12:14] == b"\x08\x00":
                ihl = (data[14] & 0x0F) * 4
                ip_len = struct.unpack(">H", data[16:18])[0]
                if data[23] == 6 and len(data) >= 14 + ihl + 13:
                    tcp = 14 + ihl
                    sport, dport = struct.unpack(">HH", data[tcp:tcp + 4])
                    thl = (data[tcp + 12] >> 4) * 4
                    payload = ip_len - ihl - thl
                    if mqtt in (sport, dport):
                        cls = "mqtt"
                    elif http in (sport, dport):
                        cls = "http"
            else:
                ip_len = 0
            s = sums[cls]
            s[0] += 1
            s[1] += orig
            s[2] += ip_len
            s[3] += payload
    for k, (n, wire, ip, pl) in sums.items():
        print(k, n, wire, ip, pl)


if __name__ == "__main__":
    main()
