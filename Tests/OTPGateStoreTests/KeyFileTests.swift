import Foundation
@testable import OTPGateStore
@testable import OTPGateStoreContract
import OTPGateTestSupport
import Testing

@Suite("Master key file", .ownThreads)
struct KeyFileTests {
    func expectRefusal(_ path: String, code: StoreError.Code, _ parts: [String]) {
        do {
            _ = try KeyFile.load(path: path)
            Issue.record("loaded \(path)")
        } catch {
            #expect(error.code == code)
            for part in parts { #expect(error.message.contains(part), "message: \(error.message)") }
            #expect(error.message.contains(path))
        }
    }

    @Test func goodKeyLoadsAndKeepsItsID() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let key = try MasterKey.generate()
        try KeyFile.write(key, to: dir.file("k"))
        let loaded = try KeyFile.load(path: dir.file("k"))
        #expect(loaded.id == key.id)
        #expect(loaded.bytes == key.bytes)
        var st = stat()
        #expect(stat(dir.file("k"), &st) == 0 && st.st_mode & 0o777 == 0o600)
    }

    @Test func missingKey() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        expectRefusal(dir.file("none"), code: .keyMissing, ["does not exist", "otpgated --create-key"])
    }

    @Test func worldReadableKey() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try KeyFile.write(try MasterKey.generate(), to: dir.file("k"))
        chmod(dir.file("k"), 0o644)
        expectRefusal(dir.file("k"), code: .keyInvalid, ["mode 0644", "chmod 600"])
        chmod(dir.file("k"), 0o640)
        expectRefusal(dir.file("k"), code: .keyInvalid, ["mode 0640"])
        chmod(dir.file("k"), 0o400)
        #expect(throws: Never.self) { try KeyFile.load(path: dir.file("k")) }
    }

    @Test func symlinkedKey() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try KeyFile.write(try MasterKey.generate(), to: dir.file("real"))
        symlink(dir.file("real"), dir.file("link"))
        expectRefusal(dir.file("link"), code: .keyInvalid, ["is a symlink"])
    }

    @Test func truncatedAndOverlongKeys() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        for size in [0, 16, 31, 33, 64] {
            let path = dir.file("k\(size)")
            _ = FileManager.default.createFile(atPath: path, contents: Data(repeating: 7, count: size), attributes: [.posixPermissions: 0o600])
            expectRefusal(path, code: .keyInvalid, ["has \(size) bytes, not 32"])
        }
    }

    @Test func keyOwnedBySomeoneElse() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try KeyFile.write(try MasterKey.generate(), to: dir.file("k"))
        // As root, hand it to "nobody"; as anyone else, demand an owner we are not.
        if geteuid() == 0 {
            chown(dir.file("k"), 65534, 65534)
            expectRefusal(dir.file("k"), code: .keyInvalid, ["owned by uid 65534", "chown"])
        } else {
            do {
                _ = try KeyFile.load(path: dir.file("k"), owner: geteuid() + 1)
                Issue.record("accepted a key of another owner")
            } catch { #expect(error.message.contains("chown")) }
        }
    }

    @Test func directoryIsNotAKey() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        mkdir(dir.file("d"), 0o700)
        expectRefusal(dir.file("d"), code: .keyInvalid, ["not a regular file"])
    }

    @Test func writeNeverOverwritesByAccident() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let first = try MasterKey.generate()
        try KeyFile.write(first, to: dir.file("k"))
        #expect(throws: StoreError.self) { try KeyFile.write(try MasterKey.generate(), to: dir.file("k")) }
        #expect(try KeyFile.load(path: dir.file("k")).id == first.id)
    }

    @Test func systemdCredentialWinsOverTheFile() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        mkdir(dir.file("creds"), 0o700)
        #expect(KeyFile.resolve(path: dir.file("k"), credentialsDirectory: dir.file("creds")) == dir.file("k"))
        try KeyFile.write(try MasterKey.generate(), to: dir.file("creds/otpgate.master-key"))
        #expect(KeyFile.resolve(path: dir.file("k"), credentialsDirectory: dir.file("creds")) == dir.file("creds/otpgate.master-key"))
        #expect(KeyFile.resolve(path: dir.file("k"), credentialsDirectory: nil) == dir.file("k"))
    }
}
