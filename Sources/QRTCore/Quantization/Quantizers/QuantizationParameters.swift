/// Affine quantization of one tensor (or one weight channel): q = clamp(round(x / scale) + zeroPoint,
/// qmin, qmax), x̂ = (q − zeroPoint) · scale.
///
/// Two families, both built here so the constraints live in one place:
/// - activations: asymmetric unsigned (`asymmetric(range:bits:)`), qmin 0, qmax 2^b − 1, an integer
///   zero point — oneDNN's u8 activations with zero points; 6- and 4-bit ranges still travel as u8.
/// - weights: symmetric signed narrow range (`symmetric(maxMagnitude:bits:)`), [−qmax, qmax] with
///   qmax = 2^(b−1) − 1 and zero point 0 — oneDNN's s8 per-channel weights.
///
/// Rounding is round-half-to-even (`nearbyint`), the default rounding mode of oneDNN's reorders and
/// of torch's fake-quantize, so the fake-quant executor and the INT8 kernels agree on ties. Like
/// torch (and a oneDNN reorder given the scale 1/Δ) values are multiplied by `inverseScale` rather
/// than divided by `scale`. NaN quantizes to the zero point (value 0); ±∞ saturate.
struct QuantizationParameters: Codable, Sendable, Hashable {
    let scale: Float
    let zeroPoint: Int32
    let qmin: Int32
    let qmax: Int32

    /// The smallest scale ever produced: it only keeps 1/scale finite. A zero range (all-zero data)
    /// gets this scale; unlike torch's eps (1.2e-7) it never clips a legitimately tiny range.
    static let minimumScale = Float.leastNormalMagnitude

    init(scale: Float, zeroPoint: Int32, qmin: Int32, qmax: Int32) {
        precondition(scale.isFinite && scale >= Self.minimumScale, "quantization scale \(scale) is not positive")
        precondition(qmin < qmax && qmin <= zeroPoint && zeroPoint <= qmax,
                     "zero point \(zeroPoint) outside [\(qmin), \(qmax)]")
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.qmin = qmin
        self.qmax = qmax
    }

    /// Asymmetric unsigned parameters covering `range`, widened to include 0 so that zero (padding,
    /// ReLU output) is exactly representable. The zero point is rounded to an integer, which moves
    /// the represented range by at most Δ/2; `representableRange` says where it ends up.
    static func asymmetric(range: ClosedRange<Float>, bits: Int) -> QuantizationParameters {
        precondition((2...8).contains(bits), "activation bit width \(bits) not in 2...8")
        return asymmetric(range: range, qmax: Int32(1) << bits - 1)
    }

    /// Asymmetric unsigned parameters on the levels 0...qmax (any count, not only a power of two).
    static func asymmetric(range: ClosedRange<Float>, qmax: Int32) -> QuantizationParameters {
        precondition((1...255).contains(qmax), "activation levels 0...\(qmax) do not fit in u8")
        precondition(range.lowerBound.isFinite && range.upperBound.isFinite, "non-finite range \(range)")
        let lower = Swift.min(range.lowerBound, 0)
        let upper = Swift.max(range.upperBound, 0)
        // In Double: a range wider than Float.greatestFiniteMagnitude must not overflow to ∞.
        let scale = Swift.max(Float((Double(upper) - Double(lower)) / Double(qmax)), minimumScale)
        // −lower/scale ∈ [0, qmax], so the rounded zero point never leaves [0, qmax].
        let zeroPoint = Swift.min(Swift.max(Int32((-lower / scale).rounded(.toNearestOrEven)), 0), qmax)
        return QuantizationParameters(scale: scale, zeroPoint: zeroPoint, qmin: 0, qmax: qmax)
    }

    /// Symmetric signed narrow-range parameters: [−maxMagnitude, maxMagnitude] onto [−qmax, qmax].
    /// Narrow range (no −2^(b−1)) keeps the grid symmetric, as per-channel weight schemes do.
    static func symmetric(maxMagnitude: Float, bits: Int) -> QuantizationParameters {
        precondition((2...8).contains(bits), "weight bit width \(bits) not in 2...8")
        precondition(maxMagnitude.isFinite && maxMagnitude >= 0, "bad magnitude \(maxMagnitude)")
        let qmax = Int32(1) << (bits - 1) - 1
        let scale = Swift.max(maxMagnitude / Float(qmax), minimumScale)
        return QuantizationParameters(scale: scale, zeroPoint: 0, qmin: -qmax, qmax: qmax)
    }

    var isSigned: Bool { qmin < 0 }
    /// Bits needed to store a level: 8 for u8 [0, 255] and for narrow s8 [−127, 127].
    var bits: Int { Int32.bitWidth - (qmax - qmin).leadingZeroBitCount }
    var inverseScale: Float { 1 / scale }
    /// The values the grid reaches, [(qmin − zp)·Δ, (qmax − zp)·Δ]; everything outside is clipped.
    var representableRange: ClosedRange<Float> {
        Float(qmin - zeroPoint) * scale...Float(qmax - zeroPoint) * scale
    }

    /// Levels relative to the zero point, as floats: the clamp in `level(_:)`.
    private var lowestLevel: Float { Float(qmin - zeroPoint) }
    private var highestLevel: Float { Float(qmax - zeroPoint) }

    /// round(x/Δ) clamped to the grid, relative to the zero point; exact in Float (|level| < 2^24).
    @inline(__always)
    private func level(_ x: Float, inverse: Float, low: Float, high: Float) -> Float {
        let r = (x * inverse).rounded(.toNearestOrEven)
        return r.isNaN ? 0 : Swift.min(Swift.max(r, low), high)
    }

    func quantize(_ x: Float) -> Int32 {
        Int32(level(x, inverse: inverseScale, low: lowestLevel, high: highestLevel)) + zeroPoint
    }

    func dequantize(_ q: Int32) -> Float { Float(q - zeroPoint) * scale }

    /// dequantize(quantize(x)), without the integer round trip.
    func fakeQuantize(_ x: Float) -> Float {
        level(x, inverse: inverseScale, low: lowestLevel, high: highestLevel) * scale
    }

    /// Quantizes into any integer storage that holds [qmin, qmax] (UInt8 activations, Int8 weights).
    func quantize<Q: FixedWidthInteger>(_ source: UnsafeBufferPointer<Float>,
                                        into destination: UnsafeMutableBufferPointer<Q>) {
        precondition(destination.count == source.count, "quantize: \(source.count) values into \(destination.count)")
        precondition(Int64(qmin) >= Int64(Q.min) && Int64(qmax) <= Int64(Q.max), "levels do not fit in \(Q.self)")
        let (inverse, low, high, zero) = (inverseScale, lowestLevel, highestLevel, zeroPoint)
        for i in 0..<source.count {
            destination[i] = Q(truncatingIfNeeded: Int32(level(source[i], inverse: inverse, low: low, high: high)) + zero)
        }
    }

    func dequantize<Q: FixedWidthInteger>(_ source: UnsafeBufferPointer<Q>,
                                          into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count == source.count, "dequantize: \(source.count) values into \(destination.count)")
        let (scale, zero) = (scale, Float(zeroPoint))
        for i in 0..<source.count { destination[i] = (Float(source[i]) - zero) * scale }
    }

    /// Quantize-dequantize in place: the fake-quant executor's op at every quant point.
    func fakeQuantize(_ values: UnsafeMutableBufferPointer<Float>) {
        let (inverse, low, high, scale) = (inverseScale, lowestLevel, highestLevel, scale)
        for i in 0..<values.count { values[i] = level(values[i], inverse: inverse, low: low, high: high) * scale }
    }

    func fakeQuantize(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count == source.count, "fakeQuantize: \(source.count) values into \(destination.count)")
        let (inverse, low, high, scale) = (inverseScale, lowestLevel, highestLevel, scale)
        for i in 0..<source.count {
            destination[i] = level(source[i], inverse: inverse, low: low, high: high) * scale
        }
    }
}

extension QuantizationParameters {
    private enum CodingKeys: String, CodingKey { case scale, zeroPoint, qmin, qmax }

    /// Decoded parameters meet `init`'s checks or throw, naming the field. (`Swift.Decoder`:
    /// QRTCore has its own `Decoder`, the RT-DETR decoder.)
    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let scale = try c.decode(Float.self, forKey: .scale)
        let zeroPoint = try c.decode(Int32.self, forKey: .zeroPoint)
        let qmin = try c.decode(Int32.self, forKey: .qmin)
        let qmax = try c.decode(Int32.self, forKey: .qmax)
        guard scale.isFinite, scale >= Self.minimumScale else {
            throw DecodingError.dataCorruptedError(forKey: .scale, in: c, debugDescription: "scale \(scale) is not positive and finite")
        }
        guard qmin < qmax else { throw DecodingError.dataCorruptedError(forKey: .qmax, in: c, debugDescription: "qmax \(qmax) ≤ qmin \(qmin)") }
        guard (qmin...qmax).contains(zeroPoint) else {
            throw DecodingError.dataCorruptedError(forKey: .zeroPoint, in: c, debugDescription: "\(zeroPoint) outside [\(qmin), \(qmax)]")
        }
        self.init(scale: scale, zeroPoint: zeroPoint, qmin: qmin, qmax: qmax)
    }
}
