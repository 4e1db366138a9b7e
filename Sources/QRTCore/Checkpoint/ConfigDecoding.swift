import Foundation

extension CodingUserInfoKey {
    /// The file name `RTDetrConfig` decoding errors carry (defaults to `config.json`).
    static let checkpointFileName = CodingUserInfoKey(rawValue: "qrt.checkpoint.fileName")!
}

/// Reads one config object field by field, with transformers' defaults for absent keys and a
/// one-line `CheckpointError` naming the field (`backbone_config.depths`) for anything else:
/// wrong JSON type, null where a value is required, out-of-range value.
struct ConfigFields<Key: CodingKey> {
    let container: KeyedDecodingContainer<Key>
    /// `""` at the top level, `"backbone_config."` inside the backbone.
    let prefix: String
    let file: String

    init(_ decoder: Swift.Decoder, keyedBy: Key.Type, prefix: String, objectName: String) throws {
        file = decoder.userInfo[.checkpointFileName] as? String ?? "config.json"
        self.prefix = prefix
        do {
            container = try decoder.container(keyedBy: Key.self)
        } catch {
            let found = (try? JSONKind(from: decoder))?.name ?? "not an object"
            throw CheckpointError(
                .config, file: file, subject: objectName.isEmpty ? nil : CheckpointError.field(objectName),
                "must be a JSON object, found \(found)")
        }
    }

    func path(_ key: Key) -> String { prefix + key.stringValue }

    func fail(_ key: Key, _ detail: String) -> CheckpointError {
        CheckpointError(.config, file: file, subject: CheckpointError.field(path(key)), detail)
    }

    /// The field's value, `defaultValue` when the key is absent; null or a wrong type throws.
    func value<T: Decodable>(_ key: Key, default defaultValue: T, _ expected: String) throws -> T {
        guard container.contains(key) else { return defaultValue }
        return try present(key, expected)
    }

    /// The field's value; absent throws.
    func required<T: Decodable>(_ key: Key, _ expected: String) throws -> T {
        guard container.contains(key) else { throw fail(key, "is missing") }
        return try present(key, expected)
    }

    /// The field's value, nil when absent or null.
    func optional<T: Decodable>(_ key: Key, _ expected: String) throws -> T? {
        guard container.contains(key), !((try? container.decodeNil(forKey: key)) ?? false) else { return nil }
        return try present(key, expected)
    }

    private func present<T: Decodable>(_ key: Key, _ expected: String) throws -> T {
        do {
            return try container.decode(T.self, forKey: key)
        } catch let error as CheckpointError {
            throw error
        } catch {
            let found = (try? container.decode(JSONKind.self, forKey: key))?.name ?? "something else"
            throw fail(key, "must be \(expected), found \(found)")
        }
    }

    // MARK: - Range checks

    func positive(_ key: Key, _ value: Int) throws {
        guard value > 0 else { throw fail(key, "must be positive, found \(value)") }
    }

    func nonNegative(_ key: Key, _ value: Int) throws {
        guard value >= 0 else { throw fail(key, "must not be negative, found \(value)") }
    }

    func positive(_ key: Key, _ value: Double) throws {
        guard value > 0, value.isFinite else { throw fail(key, "must be a positive finite number, found \(value)") }
    }

    func positiveList(_ key: Key, _ values: [Int], allowEmpty: Bool = false) throws {
        guard allowEmpty || !values.isEmpty else { throw fail(key, "must not be empty") }
        if let bad = values.first(where: { $0 <= 0 }) {
            throw fail(key, "must hold positive integers, found \(bad) in \(CheckpointError.list(values))")
        }
    }

    /// One of transformers' activation names that this engine implements.
    func activation(_ key: Key, default defaultValue: String) throws -> String {
        let name: String = try value(key, default: defaultValue, "an activation name (a string)")
        guard RTDetrConfig.supportedActivations.contains(name) else {
            throw fail(
                key,
                "activation \(CheckpointError.quote(name, limit: 40)) is not supported (supported: \(RTDetrConfig.supportedActivations.sorted().joined(separator: ", ")))"
            )
        }
        return name
    }
}

/// What a JSON value turned out to be, for "must be X, found Y" messages.
struct JSONKind: Decodable {
    let name: String

    init(from decoder: Swift.Decoder) throws {
        if let single = try? decoder.singleValueContainer() {
            if single.decodeNil() {
                name = "null"
                return
            }
            if let flag = try? single.decode(Bool.self) {
                name = flag ? "true" : "false"
                return
            }
            if let number = try? single.decode(Double.self) {
                name = "the number \(number)"
                return
            }
            if let text = try? single.decode(String.self) {
                name = "the string \(CheckpointError.quote(text, limit: 40))"
                return
            }
        }
        if (try? decoder.unkeyedContainer()) != nil {
            name = "a list"
        } else if (try? decoder.container(keyedBy: AnyKey.self)) != nil {
            name = "an object"
        } else {
            name = "an unreadable value"
        }
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}
