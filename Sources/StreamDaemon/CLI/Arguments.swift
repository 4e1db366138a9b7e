/// A small command-line parser: `--name value`, `--flag`, and positional arguments.
/// Every error names the option, so a bad invocation fails with one clear line.
struct Arguments {
    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    private var options: [String: String] = [:]
    private var flags: Set<String> = []
    private(set) var positional: [String] = []
    private var consumed: Set<String> = []

    /// - Parameters:
    ///   - valued: option names (without `--`) that take a value.
    ///   - flags: option names that take none.
    init(_ arguments: [String], valued: Set<String>, flags flagNames: Set<String>) throws {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--") {
                var name = String(argument.dropFirst(2))
                var inlineValue: String?
                if let equals = name.firstIndex(of: "=") {
                    inlineValue = String(name[name.index(after: equals)...])
                    name = String(name[..<equals])
                }
                if valued.contains(name) {
                    if let inlineValue {
                        options[name] = inlineValue
                    } else {
                        guard index + 1 < arguments.count else {
                            throw UsageError(description: "option --\(name) needs a value")
                        }
                        index += 1
                        options[name] = arguments[index]
                    }
                } else if flagNames.contains(name), inlineValue == nil {
                    flags.insert(name)
                } else {
                    throw UsageError(description: "unknown option --\(name)")
                }
            } else if argument == "-o", valued.contains("output") {
                guard index + 1 < arguments.count else {
                    throw UsageError(description: "option -o needs a value")
                }
                index += 1
                options["output"] = arguments[index]
            } else {
                positional.append(argument)
            }
            index += 1
        }
    }

    func string(_ name: String) -> String? { options[name] }

    func string(_ name: String, default value: String) -> String { options[name] ?? value }

    func required(_ name: String) throws -> String {
        guard let value = options[name] else { throw UsageError(description: "missing required option --\(name)") }
        return value
    }

    func int(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = options[name] else { return value }
        guard let parsed = Int(text), range.contains(parsed) else {
            throw UsageError(description: "option --\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return parsed
    }

    func float(_ name: String, default value: Float, range: ClosedRange<Float>) throws -> Float {
        guard let text = options[name] else { return value }
        guard let parsed = Float(text), range.contains(parsed) else {
            throw UsageError(description: "option --\(name) must be a number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return parsed
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }
}
