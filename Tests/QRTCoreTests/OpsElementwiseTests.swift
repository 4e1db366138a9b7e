import Foundation
import Testing
@testable import QRTCore

extension OpsTests {
    @Suite struct ElementwiseTests {
        /// Error limits against float64 references. exp, sigmoid and SiLU are a few ulp off; GELU
        /// carries the 1.5e-7 of the erf approximation, scaled by |x|/2, plus rounding of 1 + erf.
        static let expRelative = 3.0e-7
        static let sigmoidAbsolute = 3.0e-7
        static let siluRelative = 4.0e-7
        static let siluAbsolute = 1.0e-30
        static let geluAbsolute = 1.0e-6
        static let geluRelative = 1.0e-6
        static let inverseSigmoidRelative = 2.0e-7

        /// Dense sweep plus odd sizes (tails), zeros, and saturating extremes.
        static let inputs: [Float] = {
            var values = stride(from: -12.0, through: 12.0, by: 0.0137).map { Float($0) }
            values += [0, -0, 1e-8, -1e-8, 1e-30, 40, -40, 87, -87, 88.3, -88.3, 100, -100, 1e6, -1e6]
            return values
        }()

        @Test func expMatchesLibm() {
            let xs = stride(from: -87.0, through: 88.3, by: 0.0071).map { Float($0) } + [0, -0, 1e-20, 0.5, -0.5]
            let got = OpsTests.applied(xs) { p, n in
                for i in 0..<n { p[i] = VectorMath.exp(p[i]) }
            }
            OpsTests.expectClose(got, xs.map { Foundation.exp(Double($0)) }, absolute: 1e-37,
                                 relative: Self.expRelative, "exp")
            let edges = OpsTests.applied([-88.5, -200, -.infinity, .nan]) { p, n in
                for i in 0..<n { p[i] = VectorMath.exp(p[i]) }
            }
            #expect(edges[0] == 0 && edges[1] == 0 && edges[2] == 0 && edges[3].isNaN)
        }

        @Test func relu() {
            let got = OpsTests.applied(Self.inputs) { Activation.relu($0, count: $1) }
            #expect(got == Self.inputs.map { $0 > 0 ? $0 : 0 })
        }

        @Test func sigmoid() {
            let got = OpsTests.applied(Self.inputs) { Activation.sigmoid($0, count: $1) }
            let want = Self.inputs.map { 1 / (1 + Foundation.exp(-Double($0))) }
            OpsTests.expectClose(got, want, absolute: Self.sigmoidAbsolute, "sigmoid")
        }

        @Test func silu() {
            let got = OpsTests.applied(Self.inputs) { Activation.silu($0, count: $1) }
            let want = Self.inputs.map { Double($0) / (1 + Foundation.exp(-Double($0))) }
            OpsTests.expectClose(got, want, absolute: Self.siluAbsolute, relative: Self.siluRelative, "silu")
        }

        @Test func geluExactErfForm() {
            let got = OpsTests.applied(Self.inputs) { Activation.gelu($0, count: $1) }
            let want = Self.inputs.map { 0.5 * Double($0) * (1 + Foundation.erf(Double($0) / 2.0.squareRoot())) }
            OpsTests.expectClose(got, want, absolute: Self.geluAbsolute, relative: Self.geluRelative, "gelu")
        }

        @Test func inverseSigmoidClampsLikeTransformers() {
            let xs: [Float] = [-1, 0, 1e-7, 1e-5, 2e-5, 0.001, 0.25, 0.5, 0.9, 1 - 1e-6, 1, 2]
            let got = OpsTests.applied(xs) { Activation.inverseSigmoid($0, count: $1) }
            let want = xs.map { x -> Double in
                let clamped = Double(min(max(x, 0), 1))
                let top = max(clamped, Double(Float(1e-5))), bottom = max(Double(Float(1 - Float(clamped))), Double(Float(1e-5)))
                return Foundation.log(top / bottom)
            }
            OpsTests.expectClose(got, want, absolute: 1e-6, relative: Self.inverseSigmoidRelative, "inverse_sigmoid")
            // Round trip away from the clamps.
            let back = OpsTests.applied(OpsTests.applied([0.1, 0.5, 0.73]) { Activation.inverseSigmoid($0, count: $1) }) {
                Activation.sigmoid($0, count: $1)
            }
            OpsTests.expectClose(back, [0.1, 0.5, 0.73] as [Double], absolute: 1e-6, "sigmoid(inverse_sigmoid)")
        }

        @Test(arguments: [0, 1, 15, 16, 17, 100])
        func add(count: Int) {
            var generator = OpsTests.SeededGenerator(seed: UInt64(count))
            let a = generator.uniform(count, in: -5...5), b = generator.uniform(count, in: -5...5)
            var out = [Float](repeating: .nan, count: count)
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer {
                        Elementwise.add(a.baseAddress!, b.baseAddress!, into: $0.baseAddress!, count: count)
                    }
                }
            }
            #expect(out == zip(a, b).map { $0 + $1 })
            let inPlace = OpsTests.applied(a) { p, n in b.withUnsafeBufferPointer { Elementwise.add(p, $0.baseAddress!, count: n) } }
            #expect(inPlace == out)
        }
    }
}
