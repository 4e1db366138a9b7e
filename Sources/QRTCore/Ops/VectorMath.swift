#if canImport(Glibc)
import Glibc  // fmaf and libm for the debug build of SIMD addingProduct
#endif

/// Vector building blocks for the Swift ops: unaligned `SIMD16<Float>` loads and stores (one
/// AVX-512 register in release builds, where `-target-cpu native` applies) and scalar exp / erf
/// kernels written for the loop vectorizer.
///
/// What compiles well (checked in the disassembly): SIMD16 `+ - *`, `addingProduct` (vfmadd),
/// loads/stores, and `replacing(with:where:)` on a direct comparison (vmaxps, masked moves).
/// What does not: the stdlib's `pointwiseMin` / `pointwiseMax` / `clamped` on floats (scalar
/// `Float.minimum` per lane), bit-casting comparison masks, and SIMD values crossing a closure
/// boundary (split into 128-bit pieces).
enum VectorMath {
    typealias V = SIMD16<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    // The transcendental kernels below are scalar and branch-free (selects, FMAs, bit casts):
    // inlined into a plain `for` loop over a buffer they vectorize to 16 lanes under
    // `-target-cpu native`, and the loop's remainder runs the very same operations, so an element's
    // result never depends on its position. (Written on SIMD16 and passed through a closure, the
    // same code ran 10–17× slower.)

    /// eˣ within 2 ulp of the correctly rounded value on [-87, 88.3] (Cephes `expf`: Cody–Waite
    /// reduction by ln 2, degree-6 polynomial, 2ⁿ built from exponent bits). Below -88 it returns 0;
    /// above 88.376 it saturates at ≈ 2.7e38 instead of overflowing to +inf; NaN stays NaN.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let xc = x < -88 ? -88 : (x > 88.376_26 ? 88.376_26 : x)
        // n = round(x·log2 e): adding 1.5·2²³ leaves n in the low mantissa bits.
        let magic: Float = 12_582_912
        let shifted = xc * 1.442_695_04 + magic
        let n = shifted - magic
        var r = xc.addingProduct(n, -0.693_359_375)
        r = r.addingProduct(n, 2.121_944_40e-4)
        var p: Float = 1.987_569_150_0e-4
        p = (1.398_199_950_7e-3 as Float).addingProduct(p, r)
        p = (8.333_451_907_3e-3 as Float).addingProduct(p, r)
        p = (4.166_579_589_4e-2 as Float).addingProduct(p, r)
        p = (1.666_666_545_9e-1 as Float).addingProduct(p, r)
        p = (5.000_000_120_1e-1 as Float).addingProduct(p, r)
        let e = r.addingProduct(p, r * r) + 1
        // 2ⁿ: n + 127 in the exponent field; n = -127 (x ≤ -87.7) gives exactly 0.
        let scale = Float(bitPattern: ((shifted.bitPattern &- magic.bitPattern) &+ 127) &<< 23)
        return x != x ? x : e * scale
    }

    /// erf(x) by Abramowitz–Stegun 7.1.26 (absolute error ≤ 1.5e-7), the form PyTorch's AVX
    /// kernels used for years: sign(x)·(1 − t·P(t)·e^(−x²)), t = 1 / (1 + 0.3275911·|x|).
    @inline(__always)
    static func erf(_ x: Float) -> Float {
        let a = x.magnitude
        let t = 1 / (1 as Float).addingProduct(a, 0.327_591_1)
        var r = (-1.453_152_027 as Float).addingProduct(1.061_405_429, t)
        r = (1.421_413_741 as Float).addingProduct(r, t)
        r = (-0.284_496_736 as Float).addingProduct(r, t)
        r = (0.254_829_592 as Float).addingProduct(r, t)
        let magnitude = 1 - r * t * exp(-(a * a))
        return Float(bitPattern: magnitude.bitPattern | (x.bitPattern & 0x8000_0000))
    }
}
