import Foundation
import Testing
@testable import QRTCore

extension OpsTests {
    @Suite struct NormTests {
        /// LayerNorm must match torch within 1e-5 relative; against float64 statistics of the same
        /// float inputs it does, plus a floor for outputs near zero.
        static let layerNormRelative = 1.0e-5
        static let layerNormAbsolute = 2.0e-6
        /// Softmax: exp's ≤ 2 ulp plus the rounding of the sum and the scale.
        static let softmaxRelative = 1.0e-6
        static let softmaxAbsolute = 1.0e-12

        static func referenceLayerNorm(_ x: [Float], rows: Int, columns: Int, gamma: [Float], beta: [Float],
                                       epsilon: Float) -> [Double] {
            var out = [Double](repeating: 0, count: x.count)
            for r in 0..<rows {
                let row = x[(r * columns)..<((r + 1) * columns)].map(Double.init)
                let mean = row.reduce(0, +) / Double(columns)
                let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(columns)
                for c in 0..<columns {
                    out[r * columns + c] = (row[c] - mean) / (variance + Double(epsilon)).squareRoot()
                        * Double(gamma[c]) + Double(beta[c])
                }
            }
            return out
        }

        static func runLayerNorm(_ x: [Float], rows: Int, columns: Int, gamma: [Float], beta: [Float],
                                 epsilon: Float) -> [Float] {
            gamma.withUnsafeBufferPointer { g in
                beta.withUnsafeBufferPointer { b in
                    OpsTests.applied(x) { p, _ in
                        Norm.layerNorm(p, rows: rows, columns: columns, gamma: g.baseAddress!, beta: b.baseAddress!,
                                       epsilon: epsilon)
                    }
                }
            }
        }

        @Test(arguments: [(3, 256), (5, 67), (2, 1), (1, 16), (4, 1024)])
        func layerNorm(rows: Int, columns: Int) {
            var generator = OpsTests.SeededGenerator(seed: UInt64(rows * 1000 + columns))
            let x = generator.normal(rows * columns, mean: 0.3, deviation: 2)
            let gamma = generator.normal(columns, mean: 1, deviation: 0.2)
            let beta = generator.normal(columns, deviation: 0.1)
            let got = Self.runLayerNorm(x, rows: rows, columns: columns, gamma: gamma, beta: beta, epsilon: 1e-5)
            OpsTests.expectClose(got, Self.referenceLayerNorm(x, rows: rows, columns: columns, gamma: gamma, beta: beta,
                                                              epsilon: 1e-5),
                                 absolute: Self.layerNormAbsolute, relative: Self.layerNormRelative,
                                 "layerNorm \(rows)×\(columns)")
        }

        /// Two rows far from zero: mean 300 with deviation 1, and a near-constant mean −40 with
        /// deviation 0.01. The corrected two-pass statistics keep full precision where a one-pass
        /// E[x²] − E[x]² (or a rounded float mean) would lose most of it.
        @Test func layerNormLargeOffset() {
            var generator = OpsTests.SeededGenerator(seed: 7)
            let columns = 256
            let firstRow = generator.normal(columns, mean: 300, deviation: 1)
            let secondRow = generator.normal(columns, mean: -40, deviation: 0.01)
            let x = firstRow + secondRow
            let gamma = [Float](repeating: 1, count: columns), beta = [Float](repeating: 0, count: columns)
            let got = Self.runLayerNorm(x, rows: 2, columns: columns, gamma: gamma, beta: beta, epsilon: 1e-5)
            OpsTests.expectClose(got, Self.referenceLayerNorm(x, rows: 2, columns: columns, gamma: gamma, beta: beta,
                                                              epsilon: 1e-5),
                                 absolute: Self.layerNormAbsolute, relative: Self.layerNormRelative, "layerNorm offset")
        }

        @Test func layerNormOutOfPlace() {
            var generator = OpsTests.SeededGenerator(seed: 11)
            let x = generator.normal(3 * 40), gamma = generator.normal(40), beta = generator.normal(40)
            var out = [Float](repeating: .nan, count: x.count)
            x.withUnsafeBufferPointer { x in
                gamma.withUnsafeBufferPointer { g in
                    beta.withUnsafeBufferPointer { b in
                        out.withUnsafeMutableBufferPointer {
                            Norm.layerNorm(x.baseAddress!, rows: 3, columns: 40, gamma: g.baseAddress!, beta: b.baseAddress!,
                                           epsilon: 1e-6, into: $0.baseAddress!)
                        }
                    }
                }
            }
            #expect(out == Self.runLayerNorm(x, rows: 3, columns: 40, gamma: gamma, beta: beta, epsilon: 1e-6))
        }

        static func referenceSoftmax(_ x: [Float], rows: Int, columns: Int) -> [Double] {
            var out = [Double](repeating: 0, count: x.count)
            for r in 0..<rows {
                let row = x[(r * columns)..<((r + 1) * columns)].map(Double.init)
                let m = row.max()!
                let e = row.map { Foundation.exp($0 - m) }
                let s = e.reduce(0, +)
                for c in 0..<columns { out[r * columns + c] = e[c] / s }
            }
            return out
        }

        @Test(arguments: [(8, 300), (3, 37), (2, 1), (4, 16), (1, 400)])
        func softmax(rows: Int, columns: Int) {
            var generator = OpsTests.SeededGenerator(seed: UInt64(rows * 7919 + columns))
            var x = generator.normal(rows * columns, deviation: 6)
            x[0] = 80  // a dominant logit: the others underflow towards 0 without NaN
            let got = OpsTests.applied(x) { p, _ in Softmax.rows(p, rows: rows, columns: columns) }
            OpsTests.expectClose(got, Self.referenceSoftmax(x, rows: rows, columns: columns),
                                 absolute: Self.softmaxAbsolute, relative: Self.softmaxRelative,
                                 "softmax \(rows)×\(columns)")
        }

        @Test func softmaxIsShiftInvariantAndHandlesInfinity() {
            let row: [Float] = [1, 2, 3, -.infinity, 0.5]
            let shifted = row.map { $0 + 1000 }
            let a = OpsTests.applied(row) { Softmax.rows($0, rows: 1, columns: $1) }
            let b = OpsTests.applied(shifted) { Softmax.rows($0, rows: 1, columns: $1) }
            OpsTests.expectClose(b, a, absolute: 1e-6, "shifted softmax")
            #expect(a[3] == 0)
        }
    }
}
