import Foundation
import Glibc

/// Runs a program to completion with posix_spawn: `input` on its standard input,
/// its output discarded or captured. Lean on purpose, since the time it takes is
/// what the PAM comparison measures.
enum ChildProcess {
    struct Outcome {
        var status: Int32
        var nanoseconds: UInt64
        var output: String
    }

    static func run(_ arguments: [String], input: String = "", captureOutput: Bool = false) throws -> Outcome {
        var inPipe: [Int32] = [0, 0]
        var outPipe: [Int32] = [-1, -1]
        guard pipe(&inPipe) == 0 else { throw BenchError("pipe failed") }
        if captureOutput { guard pipe(&outPipe) == 0 else { throw BenchError("pipe failed") } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_addclose(&actions, inPipe[1])
        if captureOutput {
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 2)
            posix_spawn_file_actions_addclose(&actions, outPipe[0])
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        // Small enough to sit in the pipe buffer before the child reads it.
        let bytes = Array(input.utf8)
        if !bytes.isEmpty { _ = write(inPipe[1], bytes, bytes.count) }
        close(inPipe[1])
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let start = Monotonic.now()
        let rc = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
        close(inPipe[0])
        if captureOutput { close(outPipe[1]) }
        guard rc == 0 else {
            if captureOutput { close(outPipe[0]) }
            throw BenchError("cannot run \(arguments[0]): \(String(cString: strerror(rc)))")
        }
        var output = ""
        if captureOutput {
            var data = [UInt8]()
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(outPipe[0], &chunk, chunk.count)
                if n <= 0 { break }
                data += chunk[0..<n]
            }
            close(outPipe[0])
            output = String(decoding: data, as: UTF8.self)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let elapsed = Monotonic.now() - start
        let exited = status & 0x7f == 0
        return Outcome(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), nanoseconds: elapsed, output: output)
    }

    /// Runs a set-up command and throws with its output if it fails.
    @discardableResult
    static func must(_ arguments: [String]) throws -> String {
        let r = try run(arguments, captureOutput: true)
        guard r.status == 0 else {
            throw BenchError("\(arguments.joined(separator: " ")) failed (\(r.status)): \(r.output)")
        }
        return r.output
    }
}
