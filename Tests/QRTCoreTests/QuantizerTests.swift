import Foundation
import Testing
@testable import QRTCore

/// Tests of the quantizers (Sources/QRTCore/Quantization/Quantizers): each against a plain scalar
/// reference or a brute-force computation written here, in Double. Every suite nests in
/// `QuantizerTests`, so `swift test --filter Quantizer` runs them all.
@Suite struct QuantizerTests {
    /// SplitMix64 with the long-tailed samples the tests need.
    struct Random: RandomNumberGenerator {
        private var base: SplitMix64
        init(seed: UInt64) { base = SplitMix64(seed: seed) }
        mutating func next() -> UInt64 { base.next() }

        mutating func normal() -> Double {
            let u = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &self)
            let v = Double.random(in: 0..<1, using: &self)
            return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v)
        }

        /// Laplace(location, b) by inverting its CDF.
        mutating func laplace(_ count: Int, location: Double = 0, b: Double = 1) -> [Float] {
            (0..<count).map { _ in
                let u = Double.random(in: -0.5..<0.5, using: &self)
                return Float(location - b * (u < 0 ? -1 : 1) * Foundation.log(1 - 2 * abs(u)))
            }
        }

        /// Student-t with `degrees` degrees of freedom: Z / √(χ²_ν / ν).
        mutating func studentT(_ count: Int, degrees: Int, scale: Double = 1) -> [Float] {
            (0..<count).map { _ in
                let chi = (0..<degrees).reduce(0.0) { sum, _ in let z = normal(); return sum + z * z }
                return Float(scale * normal() / (chi / Double(degrees)).squareRoot())
            }
        }
    }

    /// Mean of (x − x̂)² over the samples, x̂ the nearest grid value of `parameters` clamped to its
    /// range: the objective, computed directly in Double without the code under test (and in a
    /// plain loop, so that brute-force scans stay quick in debug builds).
    static func sampleMSE(_ samples: [Float], _ parameters: QuantizationParameters) -> Double {
        let step = Double(parameters.scale)
        let low = Double(parameters.qmin - parameters.zeroPoint)
        let high = Double(parameters.qmax - parameters.zeroPoint)
        return samples.withUnsafeBufferPointer { x in
            var sum = 0.0
            for i in 0..<x.count {
                let v = Double(x[i])
                let e = v - min(max((v / step).rounded(.toNearestOrEven), low), high) * step
                sum += e * e
            }
            return sum / Double(x.count)
        }
    }

    /// The least sample MSE over a dense grid of asymmetric ranges [L·s, U·t] ⊆ [min(x, 0),
    /// max(x, 0)]: `coarse` fractions per end, then a grid `fine` times finer around the best.
    static func bruteForceBestMSE(_ samples: [Float], bits: Int, coarse: Int = 40, fine: Int = 10)
        -> (mse: Double, range: ClosedRange<Float>) {
        let low = Double(min(samples.min()!, 0))
        let high = Double(max(samples.max()!, 0))
        var best = (mse: Double.infinity, range: Float(0)...Float(0))
        func scan(_ s: [Double], _ t: [Double]) {
            for fs in s where (0...1).contains(fs) {
                for ft in t where (0...1).contains(ft) {
                    let range = Float(low * fs)...Float(high * ft)
                    let mse = sampleMSE(samples, .asymmetric(range: range, bits: bits))
                    if mse < best.mse { best = (mse, range) }
                }
            }
        }
        let grid = (0...coarse).map { Double($0) / Double(coarse) }
        scan(low == 0 ? [0] : grid, high == 0 ? [0] : grid)
        let step = 1 / Double(coarse * fine)
        let (s0, t0) = (low == 0 ? 0 : Double(best.range.lowerBound) / low, high == 0 ? 0 : Double(best.range.upperBound) / high)
        scan(low == 0 ? [0] : (-fine...fine).map { s0 + Double($0) * step },
             high == 0 ? [0] : (-fine...fine).map { t0 + Double($0) * step })
        return best
    }

    static func observed<O: ActivationObserver>(_ observer: O, _ batches: [[Float]]) -> O {
        var observer = observer
        for batch in batches { observer.observe(batch) }
        return observer
    }

    /// Splits samples into consecutive batches of `size`.
    static func batches(_ samples: [Float], size: Int) -> [[Float]] {
        stride(from: 0, to: samples.count, by: size).map { Array(samples[$0..<min($0 + size, samples.count)]) }
    }
}
