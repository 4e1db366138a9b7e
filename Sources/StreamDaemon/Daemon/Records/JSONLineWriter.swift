import Foundation

/// Builds one JSON object as UTF-8 bytes, keys in the order written, numbers with a fixed
/// number of decimals. Faster and more predictable than `JSONEncoder` for a record per frame.
struct JSONLineWriter {
    private(set) var bytes: [UInt8] = []
    private var needsComma: [Bool] = []

    init(capacity: Int = 512) { bytes.reserveCapacity(capacity) }

    mutating func beginObject(_ key: String? = nil) {
        if let key { writeKey(key) } else { separate() }
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma.removeLast()
    }

    mutating func beginArray(_ key: String? = nil) {
        if let key { writeKey(key) } else { separate() }
        bytes.append(UInt8(ascii: "["))
        needsComma.append(false)
    }

    mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma.removeLast()
    }

    mutating func string(_ key: String, _ value: String) {
        writeKey(key)
        appendQuoted(value)
    }

    mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
    }

    mutating func int(_ key: String, _ value: Int) {
        writeKey(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func bool(_ key: String, _ value: Bool) {
        writeKey(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    mutating func null(_ key: String) {
        writeKey(key)
        bytes.append(contentsOf: "null".utf8)
    }

    /// A number rounded to `decimals` places, trailing zeros dropped; non-finite ⇒ null.
    mutating func number(_ key: String, _ value: Double?, decimals: Int) {
        writeKey(key)
        appendFixed(value, decimals: decimals)
    }

    mutating func number(_ value: Double, decimals: Int) {
        separate()
        appendFixed(value, decimals: decimals)
    }

    /// Ends the line: the object must be closed.
    mutating func newline() -> [UInt8] {
        precondition(needsComma.isEmpty, "unbalanced JSON object")
        bytes.append(0x0A)
        return bytes
    }

    private mutating func separate() {
        guard !needsComma.isEmpty else { return }
        if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }

    private mutating func writeKey(_ key: String) {
        separate()
        appendQuoted(key)
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func appendQuoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendFixed(_ value: Double?, decimals: Int) {
        guard let value, value.isFinite, abs(value) < 1e15 else {
            bytes.append(contentsOf: "null".utf8)
            return
        }
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int64((value * Double(scale)).rounded())
        if scaled < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = scaled.magnitude
        bytes.append(contentsOf: String(magnitude / UInt64(scale)).utf8)
        var fraction = magnitude % UInt64(scale)
        guard fraction != 0 else { return }
        var digits = decimals
        while fraction % 10 == 0 { fraction /= 10; digits -= 1 }
        bytes.append(UInt8(ascii: "."))
        let text = String(fraction)
        for _ in 0..<(digits - text.count) { bytes.append(UInt8(ascii: "0")) }
        bytes.append(contentsOf: text.utf8)
    }
}
