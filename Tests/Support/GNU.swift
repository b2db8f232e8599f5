import Glibc

/// glibc functions that the Glibc module does not export (they need _GNU_SOURCE),
/// looked up at run time.
enum GNU {
    /// pipe2(2). pipe() then fcntl(FD_CLOEXEC) would leave a moment in which a child
    /// spawned by another thread inherits the pipe, and its reader then waits for that
    /// child too.
    static let pipe2 = function("pipe2", as: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32).self)

    /// posix_spawn_file_actions_addclosefrom_np(3) (glibc 2.34): close every descriptor
    /// from a number up in the child.
    static let addCloseFrom = function(
        "posix_spawn_file_actions_addclosefrom_np",
        as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)

    /// pidfd_open(2) (glibc 2.36): a descriptor that polls readable once the process
    /// has ended, so a wait with a deadline needs no polling loop.
    static let pidfdOpen = function("pidfd_open", as: (@convention(c) (pid_t, UInt32) -> Int32).self)

    private static func function<F>(_ name: String, as type: F.Type) -> F {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { fatalError("glibc has no \(name)") }
        return unsafeBitCast(symbol, to: type)
    }
}
