/// FP32 → u8 activation codes on the frame path: q = clamp(round_half_even(x / scale) + zp, qmin, qmax),
/// the same arithmetic as `QuantizationParameters.quantize`, written so the loop vectorizes.
enum ActivationQuantizer {
    /// 1.5·2²³: adding it to a float v with |v| < 2²² rounds v half-to-even (the FPU's mode) and leaves
    /// the integer in the low mantissa bits: a rounding and a conversion without the trapping
    /// Float → Int conversion the vectorizer cannot handle.
    private static let roundingBias: Float = 12_582_912

    static func quantize(_ source: UnsafePointer<Float>, count: Int, with parameters: QuantizationParameters,
                         into destination: UnsafeMutablePointer<UInt8>) {
        let inverse = parameters.inverseScale
        let zero = Float(parameters.zeroPoint)
        let low = Float(parameters.qmin), high = Float(parameters.qmax)
        for i in 0..<count {
            // Larger magnitudes round inexactly here, but they clamp to qmin or qmax anyway.
            let rounded = (source[i] * inverse + roundingBias) - roundingBias
            let level = Swift.min(Swift.max(rounded + zero, low), high)
            destination[i] = UInt8(truncatingIfNeeded: (level + roundingBias).bitPattern)
        }
    }
}
