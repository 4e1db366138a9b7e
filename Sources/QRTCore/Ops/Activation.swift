#if canImport(Glibc)
import Glibc
#endif

/// Element-wise activations, in place on `count` contiguous floats, as PyTorch computes them in
/// float32. The exp-based ones share `VectorMath.exp` (≤ 2 ulp), so they track torch to a few ulp.
enum Activation {
    // Each loop body is a branch-free scalar expression: the compiler turns the loop into 16-lane
    // AVX-512 code (see VectorMath).

    /// max(x, 0); NaN stays NaN.
    static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = x[i] < 0 ? 0 : x[i] }
    }

    /// x · σ(x) = x / (1 + e^(−x)), torch's `silu` (and `swish`).
    static func silu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = x[i] / (1 + VectorMath.exp(-x[i])) }
    }

    /// 1 / (1 + e^(−x)).
    static func sigmoid(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = 1 / (1 + VectorMath.exp(-x[i])) }
    }

    /// The exact (erf) GELU, torch's default `approximate='none'`: x · ½ · (1 + erf(x / √2)).
    /// Absolute error ≤ 1e-6 + 1e-6·|x| against a float64 reference (torch's own float32 kernel
    /// is about 1.2e-6 off; both lose the far negative tail to the cancellation in 1 + erf).
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = x[i] * 0.5 * (1 + VectorMath.erf(x[i] * 0.707_106_781_186_547_6)) }
    }

    /// transformers' `inverse_sigmoid`: x ← log(max(x', eps) / max(1 − x', eps)) with
    /// x' = clamp(x, 0, 1). Finite for every input, ±log(1/eps) at the ends. Used on a few
    /// hundred reference boxes per layer, so it stays scalar (libm `logf`).
    static func inverseSigmoid(_ x: UnsafeMutablePointer<Float>, count: Int, eps: Float = 1e-5) {
        for i in 0..<count {
            let clamped = min(max(x[i], 0), 1)
            let numerator = max(clamped, eps)
            let denominator = max(1 - clamped, eps)
            x[i] = logf(numerator / denominator)
        }
    }
}
