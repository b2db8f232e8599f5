import Foundation
import OTPGateClient
import Testing

// The usage examples of OTPGateClient's doc comment and of the README, compiled here.
// Each function body below must be exactly the example's text (after its `import`
// line); the tests compare them, so neither can drift into code that does not build.

func docCommentExample() async {
    // BEGIN doc comment
    let client = OTPGateClient()  // the public socket, 10 s per call
    do {
        let result = try await client.verify(user: "alice", code: "123456", service: "myapp")
        print("accepted: \(result.factor.rawValue)")
    } catch let error as OTPGateClientError where error.code == .daemon(.invalidCode) {
        print("wrong code")
    } catch {
        print("refused: \(error)")  // fail closed: anything but a success is a "no"
    }
    // END doc comment
}

func readmeExample(typed: String) async {
    // BEGIN README
    let client = OTPGateClient()   // /run/otpgate/otpgated.sock; 10 s per call
    do {
        let result = try await client.verify(user: "alice", code: typed, service: "myapp")
        print("accepted (\(result.factor))")
    } catch let error as OTPGateClientError where error.code == .daemon(.rateLimited) {
        print("too many attempts; try again in \(error.retryAfter ?? 0) s")
    } catch {
        // .daemon(.invalidCode), .unreachable, .timeout, .untrustedDaemon, ...:
        // treat every failure as a refusal.
    }
    // END README
}

@Suite struct DocumentationExampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The lines between `// BEGIN name` and `// END name` in this file, unindented.
    static func compiled(_ name: String) throws -> [String] {
        let me = try String(contentsOfFile: #filePath, encoding: .utf8).components(separatedBy: "\n")
        let start = try #require(me.firstIndex(of: "    // BEGIN \(name)"))
        let end = try #require(me.firstIndex(of: "    // END \(name)"))
        return me[(start + 1)..<end].map { String($0.dropFirst(4)) }
    }

    /// The first ```swift block of `text` that starts with `import OTPGateClient`, without that line.
    static func swiftBlock(in lines: [String]) throws -> [String] {
        let start = try #require(lines.indices.dropLast().first { lines[$0] == "```swift" && lines[$0 + 1] == "import OTPGateClient" })
        let end = try #require(lines[(start + 1)...].firstIndex(of: "```"))
        return Array(lines[(start + 3)..<end])  // after the import and the blank line
    }

    @Test func theReadmeExampleIsTheCompiledOne() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(try Self.swiftBlock(in: readme.components(separatedBy: "\n")) == Self.compiled("README"))
    }

    @Test func theDocCommentExampleIsTheCompiledOne() throws {
        let source = try String(
            contentsOf: Self.root.appendingPathComponent("Sources/OTPGateClient/OTPGateClient.swift"), encoding: .utf8)
        let lines = source.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex(of: "/// ```swift"))
        let end = try #require(lines[(start + 1)...].firstIndex(of: "/// ```"))
        let example = lines[(start + 1)..<end].map { $0 == "///" ? "" : String($0.dropFirst(4)) }
        #expect(example == (try Self.compiled("doc comment")))
    }
}
