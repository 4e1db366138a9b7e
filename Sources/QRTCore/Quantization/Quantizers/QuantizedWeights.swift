/// Integer weights with their per-channel scales, in the form they are stored: 8- and 6-bit levels
/// one two's-complement byte each, 4-bit levels packed two per byte (`Int4Packing`). Kernels take
/// `widenedToInt8()`; the fake-quant executor takes `dequantized()`.
struct QuantizedWeights: Sendable, Hashable {
    /// Why stored bytes cannot be weights (e.g. from a truncated or hostile artifact).
    enum LayoutError: Error, Equatable {
        case byteCount(expected: Int, found: Int)
        case levelOutOfRange(index: Int, level: Int8, qmax: Int32)
        /// An odd 4-bit count leaves the last high nibble unused; it must be 0.
        case nonZeroPadding
    }

    let quantization: PerChannelWeightQuantization
    let elementsPerChannel: Int
    let storage: [UInt8]

    var bits: Int { quantization.bits }
    var count: Int { quantization.outputChannels * elementsPerChannel }

    static func storageCount(bits: Int, count: Int) -> Int { bits == 4 ? Int4Packing.packedCount(count) : count }

    /// From levels already in [−qmax, qmax] (a programming error otherwise).
    init(quantization: PerChannelWeightQuantization, elementsPerChannel: Int, levels: [Int8]) {
        precondition(levels.count == quantization.outputChannels * elementsPerChannel, "level count")
        let qmax = Int8(quantization.qmax)
        precondition(levels.allSatisfy { (-qmax...qmax).contains($0) }, "level outside ±\(qmax)")
        self.quantization = quantization
        self.elementsPerChannel = elementsPerChannel
        storage = quantization.bits == 4 ? Int4Packing.pack(levels) : levels.map { UInt8(bitPattern: $0) }
    }

    /// From stored bytes; checks the size and that every level lies in [−qmax, qmax].
    init(quantization: PerChannelWeightQuantization, elementsPerChannel: Int, storage: [UInt8]) throws {
        let count = quantization.outputChannels * elementsPerChannel
        let expected = Self.storageCount(bits: quantization.bits, count: count)
        guard storage.count == expected else { throw LayoutError.byteCount(expected: expected, found: storage.count) }
        self.quantization = quantization
        self.elementsPerChannel = elementsPerChannel
        self.storage = storage
        if quantization.bits == 4, count % 2 == 1, storage[storage.count - 1] >> 4 != 0 { throw LayoutError.nonZeroPadding }
        let qmax = Int8(quantization.qmax)
        if let bad = widenedToInt8().enumerated().first(where: { !(-qmax...qmax).contains($0.element) }) {
            throw LayoutError.levelOutOfRange(index: bad.offset, level: bad.element, qmax: quantization.qmax)
        }
    }

    /// The levels as Int8, [outputChannels, elementsPerChannel] — exact for every bit width.
    func widen(into destination: UnsafeMutableBufferPointer<Int8>) {
        precondition(destination.count == count, "widen: \(count) levels into \(destination.count)")
        storage.withUnsafeBufferPointer { bytes in
            if bits == 4 {
                Int4Packing.unpack(bytes, count: count, into: destination)
            } else {
                for i in 0..<count { destination[i] = Int8(bitPattern: bytes[i]) }
            }
        }
    }

    func widenedToInt8() -> [Int8] {
        [Int8](unsafeUninitializedCapacity: count) { buffer, initialized in
            widen(into: buffer)
            initialized = count
        }
    }

    func dequantized() -> [Float] {
        let levels = widenedToInt8()
        var out = [Float](repeating: 0, count: count)
        for c in 0..<quantization.outputChannels {
            let scale = quantization.scales[c]
            for i in c * elementsPerChannel..<(c + 1) * elementsPerChannel { out[i] = Float(levels[i]) * scale }
        }
        return out
    }
}
