import Foundation
import Testing
@testable import QRTCore

extension QuantizerTests {
    @Suite struct ParametersTests {
        /// Brute force: the level whose value is nearest to x, ties to the even level (relative to
        /// the zero point, as nearbyint on x/Δ does), over every level of the grid.
        static func nearestLevel(_ x: Float, _ p: QuantizationParameters) -> Int32 {
            var best = p.qmin
            var bestDistance = Double.infinity
            for q in p.qmin...p.qmax {
                let distance = abs(Double(x) - Double(q - p.zeroPoint) * Double(p.scale))
                if distance < bestDistance || (distance == bestDistance && (q - p.zeroPoint) % 2 == 0) {
                    (best, bestDistance) = (q, distance)
                }
            }
            return best
        }

        @Test func asymmetricLayout() {
            let p = QuantizationParameters.asymmetric(range: -1...3, bits: 8)
            #expect(p.qmin == 0 && p.qmax == 255 && !p.isSigned && p.bits == 8)
            #expect(p.scale == Float(4) / 255)
            #expect(p.zeroPoint == 64)  // 255/4 = 63.75
            for bits in [4, 6, 8] {
                let q = QuantizationParameters.asymmetric(range: 0...1, bits: bits)
                #expect(q.qmax == (1 << bits) - 1 && q.zeroPoint == 0 && q.bits == bits)
                #expect(q.representableRange == 0...1)
            }
        }

        @Test(arguments: [4, 6, 8])
        func symmetricNarrowRange(bits: Int) {
            let p = QuantizationParameters.symmetric(maxMagnitude: 2, bits: bits)
            let qmax = Int32(1) << (bits - 1) - 1
            #expect(p.qmin == -qmax && p.qmax == qmax && p.zeroPoint == 0 && p.isSigned && p.bits == bits)
            #expect(p.quantize(-100) == -qmax && p.quantize(100) == qmax)
            #expect(p.representableRange == -2...2)
        }

        /// Round-half-to-even on exact ties, on both sides of the zero point (scale 1 makes x/Δ exact).
        @Test func tiesRoundToEven() {
            let p = QuantizationParameters.asymmetric(range: -128...127, bits: 8)
            #expect(p.scale == 1 && p.zeroPoint == 128)
            let ties: [(Float, Int32)] = [(0.5, 0), (1.5, 2), (2.5, 2), (3.5, 4), (-0.5, 0), (-1.5, -2), (-2.5, -2)]
            for (x, level) in ties {
                #expect(p.quantize(x) == level + 128, "\(x)")
                #expect(p.fakeQuantize(x) == Float(level), "\(x)")
            }
        }

        /// Scalar and buffer quantize agree with the brute-force nearest level; dequantize and
        /// fakeQuantize agree with (q − zp)·Δ. x·(1/Δ) may differ from x/Δ by an ulp, so a level
        /// one off is accepted only when x sits on a tie (within 1e-5 Δ of the midpoint).
        @Test(arguments: [(Float(-3)...Float(7), 8), (-0.2...5, 6), (-9...(-1), 4), (0...0.01, 8)])
        func quantizeMatchesBruteForce(range: ClosedRange<Float>, bits: Int) {
            let p = QuantizationParameters.asymmetric(range: range, bits: bits)
            var random = Random(seed: UInt64(bits))
            let span = range.upperBound - range.lowerBound
            let xs = (0..<2000).map { _ in Float.random(in: (range.lowerBound - span / 4)...(range.upperBound + span / 4), using: &random) }
                + [range.lowerBound, range.upperBound, 0, -1e30, 1e30]
            var levels = [UInt8](repeating: 0, count: xs.count)
            var fake = [Float](repeating: 0, count: xs.count)
            var dequantized = [Float](repeating: 0, count: xs.count)
            xs.withUnsafeBufferPointer { x in
                levels.withUnsafeMutableBufferPointer { p.quantize(x, into: $0) }
                fake.withUnsafeMutableBufferPointer { p.fakeQuantize(x, into: $0) }
            }
            levels.withUnsafeBufferPointer { q in dequantized.withUnsafeMutableBufferPointer { p.dequantize(q, into: $0) } }
            for (i, x) in xs.enumerated() {
                // Far outside the range every level is equally far in Double: saturation is the answer.
                let want = x.magnitude > 1e20 ? (x > 0 ? p.qmax : p.qmin) : Self.nearestLevel(x, p)
                let got = p.quantize(x)
                let offset = abs(Double(x) / Double(p.scale) - Double(want - p.zeroPoint))
                let onTie = abs(offset - 0.5) < 1e-5
                #expect(got == want || (onTie && abs(got - want) == 1), "x \(x): level \(got), nearest \(want)")
                #expect(Int32(levels[i]) == got)
                #expect(p.dequantize(got) == Float(got - p.zeroPoint) * p.scale)
                #expect(fake[i] == p.dequantize(got) && dequantized[i] == fake[i] && p.fakeQuantize(x) == fake[i])
            }
            var inPlace = xs
            inPlace.withUnsafeMutableBufferPointer { p.fakeQuantize($0) }
            #expect(inPlace == fake)
        }

        /// Zero must be exactly representable whatever the data: zero ranges, constants, all-negative
        /// and all-positive inputs.
        @Test(arguments: [Float(0)...0, 2.5...2.5, -2.5...(-2.5), -5...(-1), 1...5, -1e-30...1e-30])
        func zeroIsExact(range: ClosedRange<Float>) {
            for bits in [4, 6, 8] {
                let p = QuantizationParameters.asymmetric(range: range, bits: bits)
                #expect(p.fakeQuantize(0) == 0, "\(range) at \(bits) bits")
                #expect(p.representableRange.contains(0))
                #expect(p.scale > 0 && p.scale.isFinite)
                // The observed values themselves stay within half a step.
                for x in [range.lowerBound, range.upperBound] {
                    #expect(abs(p.fakeQuantize(x) - x) <= p.scale / 2 * 1.0001, "\(x) at \(bits) bits")
                }
            }
        }

        @Test func degenerateRanges() {
            let zero = QuantizationParameters.asymmetric(range: 0...0, bits: 8)
            #expect(zero.scale == QuantizationParameters.minimumScale && zero.zeroPoint == 0)
            #expect(zero.quantize(0) == 0 && zero.quantize(1) == 255 && zero.quantize(-1) == 0)
            let negative = QuantizationParameters.asymmetric(range: -4...(-1), bits: 8)
            #expect(negative.zeroPoint == 255 && negative.quantize(-4) == 0 && negative.quantize(1) == 255)
            #expect(negative.representableRange == -4...0)
            let huge = QuantizationParameters.asymmetric(range: -Float.greatestFiniteMagnitude...Float.greatestFiniteMagnitude, bits: 8)
            #expect(huge.scale.isFinite && huge.fakeQuantize(0) == 0)
        }

        @Test func nonFiniteInputs() {
            let p = QuantizationParameters.asymmetric(range: -1...3, bits: 8)
            #expect(p.quantize(.nan) == p.zeroPoint && p.fakeQuantize(.nan) == 0)
            #expect(p.quantize(.infinity) == 255 && p.quantize(-.infinity) == 0)
            let w = QuantizationParameters.symmetric(maxMagnitude: 1, bits: 4)
            var out = [Int8](repeating: 9, count: 3)
            [Float.nan, .infinity, -.infinity].withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { w.quantize(x, into: $0) } }
            #expect(out == [0, 7, -7])
        }

        @Test func codableRoundTrip() throws {
            let p = QuantizationParameters.asymmetric(range: -0.3...6.1, bits: 6)
            let decoded = try JSONDecoder().decode(QuantizationParameters.self, from: JSONEncoder().encode(p))
            #expect(decoded == p)
            for bad in [#"{"scale":0,"zeroPoint":0,"qmin":0,"qmax":255}"#, #"{"scale":1,"zeroPoint":300,"qmin":0,"qmax":255}"#,
                        #"{"scale":1,"zeroPoint":0,"qmin":0,"qmax":0}"#, #"{"scale":1,"zeroPoint":0,"qmin":0}"#] {
                #expect(throws: DecodingError.self, "\(bad)") {
                    try JSONDecoder().decode(QuantizationParameters.self, from: Data(bad.utf8))
                }
            }
        }
    }
}
