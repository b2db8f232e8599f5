import Foundation
import Glibc
import OTPGateTestSupport
import Testing

/// The flood tests (back-pressure, connection slots, audit floods), one at a time:
/// each loads both cores of the machine, and `swift test` runs other suites beside.
@Suite(.serialized, .ownThreadsUnqueued) enum Floods {}

/// Hostile or busy local clients, as a python3 process (run as a throwaway user with
/// setpriv, or as root): many connections from one real uid, driven by one select
/// loop. It prints one JSON line when it is in place and one with its counts at the
/// end, and waits for a line on stdin in between (so the test decides when it ends).
///
/// Modes:
/// - `pipeline [keep]`: one connection that sends `health` lines as fast as the socket
///   takes them and reads nothing, until a send has blocked for a second (the daemon
///   stopped reading) or, with `keep`, until `seconds` passed; then, told to, reads
///   every reply.
/// - `hold N [DELAY]`: N idle connections; every one the daemon closes (idle timeout,
///   eviction) or refuses is opened again after DELAY seconds (0.01: slowloris renewal).
/// - `flood N LINE [GOAL]`: N connections, each sending the request `LINE` again and
///   again, as fast as the replies come; with GOAL, a line `{"replies_reached": GOAL}`
///   once that many replies came (the flood is a real one by then).
final class LoadClients {
    static let script = #"""
        import json, os, select, socket, sys, time
        mode, path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
        args = sys.argv[4:]
        def out(obj):
            sys.stdout.write(json.dumps(obj) + "\n"); sys.stdout.flush()
        def connect():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        def wait_for_go():
            sys.stdin.readline()
        if mode == "pipeline":
            s = connect(); s.setblocking(False)
            line = b'{"v":1,"op":"health"}\n'
            chunk = line * 256
            sent = 0; stalled = False; end = time.monotonic() + seconds; buf = chunk
            keep = args[:1] == ["keep"]
            while time.monotonic() < end:
                _, w, _ = select.select([], [s], [], 1.0)
                if not w:
                    stalled = True
                    if keep: continue
                    break
                try:
                    n = s.send(buf); sent += n; buf = buf[n:] or chunk
                except BlockingIOError:
                    continue
            out({"sent_bytes": sent, "sent_lines": sent // len(line), "stalled": stalled})
            wait_for_go()
            s.setblocking(True); s.settimeout(20)
            s.shutdown(socket.SHUT_WR)
            data = b""
            try:
                while True:
                    b = s.recv(1 << 20)
                    if not b: break
                    data += b
            except socket.timeout:
                pass
            replies = data.split(b"\n")[:-1]
            ok = sum(1 for r in replies if json.loads(r).get("ok") is True)
            out({"replies": len(replies), "ok": ok})
        elif mode == "hold":
            n = int(args[0]); delay = float(args[1]) if len(args) > 1 else 0.01; socks = {}
            connects = refused = closed = 0
            def add():
                global connects
                s = connect(); socks[s.fileno()] = s; connects += 1
            def told_to_stop(wait):
                # The renewal delay, cut short by the test's line on stdin.
                r, _, _ = select.select([sys.stdin], [], [], wait)
                return bool(r)
            for _ in range(n): add()
            out({"connected": len(socks)})
            end = time.monotonic() + seconds
            stop = False
            while not stop and time.monotonic() < end:
                r, _, _ = select.select(list(socks.values()) + [sys.stdin], [], [], 0.2)
                if sys.stdin in r: break
                for s in r:
                    data = b""
                    try: data = s.recv(4096)
                    except OSError: pass
                    if b"unavailable" in data: refused += 1
                    else: closed += 1
                    del socks[s.fileno()]; s.close()
                    if told_to_stop(delay):
                        stop = True; break
                    try: add()
                    except OSError: pass
            out({"connects": connects, "refused": refused, "closed": closed, "open": len(socks)})
        elif mode == "flood":
            n, line = int(args[0]), args[1].encode() + b"\n"
            goal = int(args[2]) if len(args) > 2 else 0
            socks = [connect() for _ in range(n)]
            for s in socks: s.sendall(line)
            bufs = {s.fileno(): b"" for s in socks}
            counts = {}; replies = 0
            out({"connected": n})
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                r, _, _ = select.select(socks + [sys.stdin], [], [], 0.2)
                if sys.stdin in r: break
                for s in r:
                    b = s.recv(65536)
                    if not b:
                        socks.remove(s); continue
                    bufs[s.fileno()] += b
                    *lines, bufs[s.fileno()] = bufs[s.fileno()].split(b"\n")
                    for l in lines:
                        reply = json.loads(l); replies += 1
                        if replies == goal: out({"replies_reached": goal})
                        key = "ok" if reply.get("ok") else reply.get("error", "?")
                        counts[key] = counts.get(key, 0) + 1
                        s.sendall(line)
            out({"replies": replies, "counts": counts, "open": len(socks)})
        """#

    private let child: PipedChild

    /// Starts the clients as `user` (root when nil) against the socket at `path`.
    init(_ mode: [String], path: String, seconds: Int, as user: ThrowawayUser? = nil) throws {
        let command = ["/usr/bin/python3", "-c", Self.script, mode[0], path, String(seconds)] + mode.dropFirst()
        // At nice 10: `swift test` runs other suites beside this one, on a machine with
        // two cores; the floods still outrun what the daemon serves.
        child = try PipedChild(
            "/usr/bin/nice", ["-n", "10"] + (user.map { ["/usr/bin/setpriv"] + $0.asUser(command) } ?? command))
    }

    /// The next JSON line the clients print.
    func report(timeout: Duration = .seconds(60)) throws -> [String: Any] {
        guard case .line(let bytes) = child.readLine(timeout: timeout),
            let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        else {
            throw FixtureError("load clients printed no report; stderr:\n\(child.stderrAfterKill())")
        }
        return object
    }

    /// The next JSON line if one comes within `timeout` (zero: only one already there).
    func nextReport(timeout: Duration) -> [String: Any]? {
        guard case .line(let bytes) = child.readLine(timeout: timeout) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
    }

    /// Tells the clients to go on (pipeline: read the replies) or stop, and returns
    /// their final report.
    func finish() throws -> [String: Any] {
        try child.send(Array("go\n".utf8))
        var last = try report()
        while last["replies_reached"] != nil { last = try report() }  // a flood's marker not read yet
        child.finish(timeout: .seconds(30))
        return last
    }
}

extension DaemonProcess {
    /// The daemon's resident set size in KiB (VmRSS).
    var residentKiB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
