/// A small strict JSON reader and writer for safetensors headers.
///
/// Foundation's `JSONSerialization` turns numbers into `NSNumber`, which blurs `2`, `2.0` and
/// `true`, and gives no control over nesting depth. Headers come from untrusted files, so this
/// parser keeps number literals as text (the caller decides what an integer is), rejects
/// duplicate keys, caps nesting depth (no stack overflow on `[[[[…`), and never reads past the
/// buffer it is given.
enum CheckpointJSON {
    struct Member {
        let key: String
        let value: Value
    }

    indirect enum Value {
        case object([Member])
        case array([Value])
        case string(String)
        /// The literal as written, already checked against the JSON number grammar.
        case number(String)
        case bool(Bool)
        case null

        var kindName: String {
            switch self {
            case .object: return "an object"
            case .array: return "a list"
            case .string: return "a string"
            case .number: return "a number"
            case .bool: return "a boolean"
            case .null: return "null"
            }
        }

        /// The value as an exact integer: only a literal made of an optional '-' and digits that
        /// fits in Int. `2.0`, `2e3`, `true` are not integers.
        var exactInteger: Int? {
            guard case .number(let literal) = self, !literal.contains(where: { ".eE".contains($0) }) else {
                return nil
            }
            return Int(literal)
        }

        /// Short rendering for error messages (`2.5`, `"x"`, `a list`).
        var shortDescription: String {
            switch self {
            case .number(let literal): return String(literal.prefix(40))
            case .string(let text): return CheckpointError.quote(text, limit: 40)
            case .bool(let flag): return flag ? "true" : "false"
            case .null: return "null"
            case .object, .array: return kindName
            }
        }
    }

    struct ParseError: Error {
        let offset: Int
        let message: String
    }

    static let maxDepth = 64

    static func parse(_ bytes: UnsafeRawBufferPointer) throws(ParseError) -> Value {
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else {
            throw ParseError(offset: parser.position, message: "unexpected bytes after the JSON value")
        }
        return value
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        private var atEnd: Bool { position >= bytes.count }
        private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

        private func fail(_ message: String) -> ParseError { ParseError(offset: position, message: message) }

        mutating func skipWhitespace() {
            while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
                position += 1
            }
        }

        mutating func parseValue(depth: Int) throws(ParseError) -> Value {
            guard let byte = peek() else { throw fail("unexpected end of JSON") }
            switch byte {
            case UInt8(ascii: "{"):
                guard depth < CheckpointJSON.maxDepth else { throw fail("nesting deeper than \(CheckpointJSON.maxDepth)") }
                return try parseObject(depth: depth + 1)
            case UInt8(ascii: "["):
                guard depth < CheckpointJSON.maxDepth else { throw fail("nesting deeper than \(CheckpointJSON.maxDepth)") }
                return try parseArray(depth: depth + 1)
            case UInt8(ascii: "\""):
                return .string(try parseString())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return .number(try parseNumber())
            default:
                throw fail("unexpected character \(Self.describe(byte))")
            }
        }

        private static func describe(_ byte: UInt8) -> String {
            (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x" + String(byte, radix: 16)
        }

        private mutating func expectLiteral(_ literal: StaticString) throws(ParseError) {
            let count = literal.utf8CodeUnitCount
            guard bytes.count - position >= count else { throw fail("unexpected end of JSON") }
            for index in 0..<count where bytes[position + index] != literal.utf8Start[index] {
                throw fail("invalid literal")
            }
            position += count
        }

        private mutating func parseObject(depth: Int) throws(ParseError) -> Value {
            position += 1  // {
            var members: [Member] = []
            var seen = Set<String>()
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                position += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try parseString()
                guard seen.insert(key).inserted else {
                    throw fail("duplicate key \(CheckpointError.quote(key))")
                }
                skipWhitespace()
                guard peek() == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
                position += 1
                skipWhitespace()
                let value = try parseValue(depth: depth)
                members.append(Member(key: key, value: value))
                skipWhitespace()
                switch peek() {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "}"):
                    position += 1
                    return .object(members)
                case nil: throw fail("unexpected end of JSON inside an object")
                default: throw fail("expected ',' or '}' in an object")
                }
            }
        }

        private mutating func parseArray(depth: Int) throws(ParseError) -> Value {
            position += 1  // [
            var elements: [Value] = []
            skipWhitespace()
            if peek() == UInt8(ascii: "]") {
                position += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth))
                skipWhitespace()
                switch peek() {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "]"):
                    position += 1
                    return .array(elements)
                case nil: throw fail("unexpected end of JSON inside a list")
                default: throw fail("expected ',' or ']' in a list")
                }
            }
        }

        private mutating func parseNumber() throws(ParseError) -> String {
            let start = position
            if peek() == UInt8(ascii: "-") { position += 1 }
            guard let first = peek(), Self.isDigit(first) else { throw fail("invalid number") }
            if first == UInt8(ascii: "0") {
                position += 1
                if let next = peek(), Self.isDigit(next) { throw fail("number with a leading zero") }
            } else {
                skipDigits()
            }
            if peek() == UInt8(ascii: ".") {
                position += 1
                guard let next = peek(), Self.isDigit(next) else { throw fail("invalid number") }
                skipDigits()
            }
            if let marker = peek(), marker == UInt8(ascii: "e") || marker == UInt8(ascii: "E") {
                position += 1
                if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { position += 1 }
                guard let next = peek(), Self.isDigit(next) else { throw fail("invalid number") }
                skipDigits()
            }
            guard position - start <= 400 else {
                throw ParseError(offset: start, message: "number literal longer than 400 characters")
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        }

        private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

        private mutating func skipDigits() {
            while let byte = peek(), Self.isDigit(byte) { position += 1 }
        }

        private mutating func parseString() throws(ParseError) -> String {
            position += 1  // opening quote
            var utf8: [UInt8] = []
            while true {
                guard let byte = peek() else { throw fail("unterminated string") }
                switch byte {
                case UInt8(ascii: "\""):
                    position += 1
                    guard let text = String(validating: utf8, as: UTF8.self) else {
                        throw fail("string is not valid UTF-8")
                    }
                    return text
                case UInt8(ascii: "\\"):
                    position += 1
                    guard let escape = peek() else { throw fail("unterminated string") }
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""): utf8.append(0x22)
                    case UInt8(ascii: "\\"): utf8.append(0x5C)
                    case UInt8(ascii: "/"): utf8.append(0x2F)
                    case UInt8(ascii: "b"): utf8.append(0x08)
                    case UInt8(ascii: "f"): utf8.append(0x0C)
                    case UInt8(ascii: "n"): utf8.append(0x0A)
                    case UInt8(ascii: "r"): utf8.append(0x0D)
                    case UInt8(ascii: "t"): utf8.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalarValue = UInt32(try parseHex4())
                        if (0xD800...0xDBFF).contains(scalarValue) {
                            guard bytes.count - position >= 2, bytes[position] == UInt8(ascii: "\\"),
                                bytes[position + 1] == UInt8(ascii: "u")
                            else { throw fail("unpaired UTF-16 surrogate in a string") }
                            position += 2
                            let low = UInt32(try parseHex4())
                            guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired UTF-16 surrogate in a string") }
                            scalarValue = 0x10000 + ((scalarValue - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(scalarValue) {
                            throw fail("unpaired UTF-16 surrogate in a string")
                        }
                        guard let scalar = Unicode.Scalar(scalarValue) else { throw fail("invalid \\u escape") }
                        utf8.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default:
                        throw fail("invalid escape \\\(Self.describe(escape)) in a string")
                    }
                default:
                    guard byte >= 0x20 else { throw fail("unescaped control character in a string") }
                    utf8.append(byte)
                    position += 1
                }
            }
        }

        private mutating func parseHex4() throws(ParseError) -> UInt16 {
            guard bytes.count - position >= 4 else { throw fail("unterminated \\u escape") }
            var value: UInt16 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw fail("invalid \\u escape")
                }
                value = value << 4 | UInt16(digit)
                position += 1
            }
            return value
        }
    }

    // MARK: - Writing

    /// A JSON string literal for `text`, escaping what RFC 8259 requires.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
