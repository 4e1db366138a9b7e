/// FP32 → u8 activation codes on the frame path: q = clamp(round_half_even(x / scale) + zp, qmin, qmax),
/// the same arithmetic as `QuantizationParameters.quantize`, in a loop the compiler vectorizes.
enum ActivationQuantizer {
    static func quantize(_ source: UnsafePointer<Float>, count: Int, with parameters: QuantizationParameters,
                         into destination: UnsafeMutablePointer<UInt8>) {
        let inverse = parameters.inverseScale
        let zero = Float(parameters.zeroPoint)
        let low = Float(parameters.qmin), high = Float(parameters.qmax)
        for i in 0..<count {
            // Clamping in float first keeps the conversion in range; rounding then adding the
            // integral zero point equals rounding the sum.
            let level = (source[i] * inverse).rounded(.toNearestOrEven) + zero
            destination[i] = UInt8(Swift.min(Swift.max(level, low), high))
        }
    }
}
