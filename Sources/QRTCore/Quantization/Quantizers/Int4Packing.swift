/// Two 4-bit two's-complement values per byte, low nibble first: value 2i in bits 0–3 of byte i,
/// value 2i+1 in bits 4–7; an odd count leaves the last high nibble 0. This is how 4-bit weights
/// are stored (in memory and in the `.qrt` artifact); `unpack` widens them to the Int8 the oneDNN
/// kernels consume, exactly (sign extension, no scaling).
enum Int4Packing {
    static let range: ClosedRange<Int8> = -8...7

    static func packedCount(_ count: Int) -> Int { (count + 1) / 2 }

    static func pack(_ values: UnsafeBufferPointer<Int8>, into packed: UnsafeMutableBufferPointer<UInt8>) {
        precondition(packed.count == packedCount(values.count), "pack: \(values.count) values into \(packed.count) bytes")
        for i in 0..<packed.count {
            let low = values[2 * i]
            let high: Int8 = 2 * i + 1 < values.count ? values[2 * i + 1] : 0
            precondition(range.contains(low) && range.contains(high), "value outside 4-bit range at \(2 * i)")
            packed[i] = UInt8(bitPattern: low) & 0x0F | UInt8(bitPattern: high) << 4
        }
    }

    /// Arithmetic shifts do the sign extension: the nibble is moved to the top of an Int8 and back.
    static func unpack(_ packed: UnsafeBufferPointer<UInt8>, count: Int, into values: UnsafeMutableBufferPointer<Int8>) {
        precondition(packed.count == packedCount(count) && values.count == count,
                     "unpack: \(packed.count) bytes into \(values.count) values (count \(count))")
        for i in 0..<count {
            let byte = packed[i / 2]
            values[i] = i & 1 == 0 ? Int8(bitPattern: byte << 4) >> 4 : Int8(bitPattern: byte) >> 4
        }
    }

    static func pack(_ values: [Int8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: packedCount(values.count)) { buffer, initialized in
            values.withUnsafeBufferPointer { pack($0, into: buffer) }
            initialized = buffer.count
        }
    }

    static func unpack(_ packed: [UInt8], count: Int) -> [Int8] {
        [Int8](unsafeUninitializedCapacity: count) { buffer, initialized in
            packed.withUnsafeBufferPointer { unpack($0, count: count, into: buffer) }
            initialized = count
        }
    }
}
