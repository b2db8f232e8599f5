import ArgumentParser

/// What share of `verify` requests carry a fresh valid code, a wrong code, or a replay
/// of the code the same user used last: `valid=90,wrong=5,replay=5`.
struct RequestMix: ExpressibleByArgument, CustomStringConvertible, Sendable {
    enum Kind: Int, CaseIterable, Sendable {
        case valid, wrong, replay
        var name: String { ["valid", "wrong", "replay"][rawValue] }
    }

    let weights: [Int]

    init(valid: Int, wrong: Int, replay: Int) {
        weights = [valid, wrong, replay]
    }

    init?(argument: String) {
        var w = [0, 0, 0]
        for part in argument.split(separator: ",") {
            let kv = part.split(separator: "=")
            guard kv.count == 2, let kind = Kind.allCases.first(where: { $0.name == kv[0] }), let n = Int(kv[1]), n >= 0
            else { return nil }
            w[kind.rawValue] = n
        }
        guard w.reduce(0, +) > 0 else { return nil }
        weights = w
    }

    var description: String {
        Kind.allCases.filter { weights[$0.rawValue] > 0 }.map { "\($0.name)=\(weights[$0.rawValue])" }.joined(separator: ",")
    }

    /// Picks kinds in exact proportion, spread evenly (smooth weighted round robin),
    /// so short runs get the same mix as long ones.
    struct Picker {
        let weights: [Int]
        let total: Int
        var current = [0, 0, 0]

        init(_ mix: RequestMix) {
            weights = mix.weights
            total = mix.weights.reduce(0, +)
        }

        mutating func next() -> Kind {
            var best = 0
            for i in 0..<3 {
                current[i] += weights[i]
                if current[i] > current[best] { best = i }
            }
            current[best] -= total
            return Kind(rawValue: best)!
        }
    }
}
