import CDNNL

/// How exactly this CPU's integer kernels multiply u8 activation codes by s8 weights.
///
/// With VNNI (AVX-512 VNNI or AVX-VNNI) oneDNN accumulates u8·s8 products straight into s32: every
/// code 0...255 is exact. Without it (AVX2, AVX-512 before VNNI) the kernels use `vpmaddubsw`,
/// which adds two adjacent u8·s8 products into a saturating s16 first: a pair beyond 32767 is
/// silently clipped. PyTorch's x86 backend narrows activations to 7 bits for this reason and ONNX
/// Runtime narrows weights; here a layer keeps its calibrated range and only as many levels as its
/// own weights allow without saturation — all 256 when no two of a channel's weights are large together.
enum IntegerDotProduct {
    static let accumulatesExactly: Bool = {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        let avx512VNNI = dnnl_cpu_isa_avx512_core_vnni.rawValue, avx2VNNI = dnnl_cpu_isa_avx2_vnni.rawValue
        return isa & avx512VNNI == avx512VNNI || isa & avx2VNNI == avx2VNNI
    }()

    private static let pairLimit = Int(Int16.max)

    /// The largest u8 code that can be multiplied by `weights` ([outputs, elementsPerOutput]) on
    /// this CPU with no saturation, whichever two of a channel's weights the kernel pairs.
    static func largestExactCode(weights: [Int8], outputs: Int, exact: Bool = accumulatesExactly) -> Int32 {
        guard !exact, outputs > 0 else { return 255 }
        let perOutput = weights.count / outputs
        var worstPair = 1
        weights.withUnsafeBufferPointer { w in
            for o in 0..<outputs {
                var (first, second) = (0, 0)
                for v in w[o * perOutput..<(o + 1) * perOutput] {
                    let m = abs(Int(v))
                    if m > first { (first, second) = (m, first) } else if m > second { second = m }
                }
                worstPair = max(worstPair, first + second)
            }
        }
        return Int32(min(255, pairLimit / worstPair))
    }

    /// `input` as the integer kernels of a layer with these weights can run it: unchanged when its
    /// codes fit, otherwise the same represented range on fewer levels.
    static func executable(_ input: QuantizationParameters, weights: [Int8], outputs: Int,
                           exact: Bool = accumulatesExactly) -> QuantizationParameters {
        let limit = largestExactCode(weights: weights, outputs: outputs, exact: exact)
        guard input.qmax > limit, input.qmin == 0 else { return input }
        return .asymmetric(range: input.representableRange, qmax: limit)
    }
}
