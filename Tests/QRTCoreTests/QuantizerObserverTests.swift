import Foundation
import Testing
@testable import QRTCore

extension QuantizerTests {
    @Suite struct ObserverTests {
        static let all: [any ActivationObserver] = [
            MinMaxObserver(), EMAMinMaxObserver(), PercentileObserver(), MSEObserver(), EMAMSEObserver(),
        ]

        @Test func minMaxIgnoresNonFinite() {
            let o = QuantizerTests.observed(MinMaxObserver(), [[1, -2, 3], [0.5], [.nan, .infinity], [-4, 10]])
            #expect(o.observedRange == -4...10)
            #expect(o.parameters(bits: 8) == .asymmetric(range: -4...10, bits: 8))
        }

        /// min ← 0.9·min + 0.1·batchMin (max likewise) after a first batch that sets them.
        @Test func emaMinMaxByHand() {
            let o = QuantizerTests.observed(EMAMinMaxObserver(momentum: 0.9), [[-1, 2], [-3, 1, 0], [.nan], [0, 12]])
            let minimum = 0.9 * (0.9 * -1 + 0.1 * -3) + 0.1 * 0
            let maximum = 0.9 * (0.9 * 2 + 0.1 * 1) + 0.1 * 12
            #expect(abs(o.minimum! - minimum) < 1e-12 && abs(o.maximum! - maximum) < 1e-12)
            #expect(o.observedRange == Float(minimum)...Float(maximum))
        }

        /// Three batches through a 3-bin EMA histogram (momentum 0.5), every mass worked out by hand:
        /// range updates, overlap re-binning (tail bins included), decay, values beyond the range.
        /// Values of the first batch weigh 1, later ones 1 − m = 0.5.
        @Test func emaHistogramByHand() throws {
            let tails = Histogram.tailBinCount
            func tail(_ entries: [Int: Double]) -> [Double] { (0..<tails).map { entries[$0] ?? 0 } }
            var o = EMAMSEObserver(momentum: 0.5, binCount: 3)
            o.observe([1, 2, 3])
            // Range [min(1, 0), 3], bins [0, 1) [1, 2) [2, 3].
            var h = try #require(o.histogram)
            #expect(h.lower == 0 && h.upper == 3 && h.counts == [0, 1, 2])

            o.observe([-1, 0, 4, 4])
            // EMA range [0.5·1 + 0.5·(−1), 0.5·3 + 0.5·4] = [0, 3.5]: bins of 7/6. Old [1, 2) gives
            // 1/6 of its width to [0, 7/6) and 5/6 to [7/6, 7/3); old [2, 3] gives 1/3 to [7/6, 7/3)
            // and 2/3 to the last. Decay by 0.5, then the batch at 0.5 per value: −1 and the 4s lie
            // within one bin width of the range, so they land in the first tail bins.
            h = try #require(o.histogram)
            #expect(o.minimum == 0 && o.maximum == 3.5 && h.upper == 3.5)
            let second = [1.0 / 6 / 2 + 0.5, (5.0 / 6 + 2.0 / 3) / 2, 4.0 / 3 / 2]
            Self.expectClose(h.counts, second)
            Self.expectClose(h.belowCounts, tail([0: 0.5]))
            Self.expectClose(h.aboveCounts, tail([0: 1]))

            o.observe([-2, 10])
            // EMA range [−1, 6.75], bins of 31/12 with edges −1, 19/12, 50/12, 6.75. Old below-tail bin
            // [−7/6, 0] splits 1/7 : 6/7 at −1; old [7/6, 7/3) splits 5/14 : 9/14 at 19/12; old
            // above-tail bin [3.5, 14/3] splits 4/7 : 3/7 at 50/12. Then −2 (1 below) goes to the first
            // tail bin, 10 (3.25 above, in [w·2^¼, w·2^½)) to the third.
            h = try #require(o.histogram)
            #expect(o.minimum == -1 && o.maximum == 6.75 && h.lower == -1 && h.upper == 6.75)
            let third = [(0.5 * 6 / 7 + second[0] + second[1] * 5 / 14) / 2,
                         (second[1] * 9 / 14 + second[2] + 1.0 * 4 / 7) / 2,
                         (1.0 * 3 / 7) / 2]
            Self.expectClose(h.counts, third)
            Self.expectClose(h.belowCounts, tail([0: 0.5 / 7 / 2 + 0.5]))
            Self.expectClose(h.aboveCounts, tail([2: 0.5]))
            #expect(h.below.mass == 0 && h.above.mass == 0)
            #expect(abs(h.totalMass - (3 * 0.25 + 4 * 0.5 * 0.5 + 2 * 0.5)) < 1e-12 && o.batchCount == 3)
        }

        /// Beyond the last tail bin only moments are kept; the clipping error there is still exact.
        @Test func farOutliersKeepMoments() {
            var h = Histogram(lower: 0, upper: 1, binCount: 4)
            [0.1, 0.6, 1e9, 2e9].withUnsafeBufferPointer { h.add($0, weight: 1) }
            #expect(h.above.mass == 2 && h.above.sum == 3e9 && h.above.sumOfSquares == 5e18)
            let model = QuantizationErrorModel(h)
            let p = QuantizationParameters.asymmetric(range: 0...1, bits: 8)
            let clipping = (1e9 - 1) * (1e9 - 1) + (2e9 - 1) * (2e9 - 1)
            let rounding = 2 * Double(p.scale) * Double(p.scale) / 12
            #expect(abs(model.expectedSquaredError(p) - (clipping + rounding) / 4) <= 1e-9 * clipping)
            // Covering them is worth it: the search reaches the moment tail's mean.
            #expect(model.optimalRange(bits: 8).range.upperBound >= 1e9)
        }

        static func expectClose(_ got: [Double], _ want: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(got.count == want.count && zip(got, want).allSatisfy { abs($0 - $1) < 1e-12 },
                    "\(got) != \(want)", sourceLocation: sourceLocation)
        }

        static func expectClose(_ got: Histogram.Tail, _ want: Histogram.Tail, sourceLocation: SourceLocation = #_sourceLocation) {
            expectClose([got.mass, got.sum, got.sumOfSquares], [want.mass, want.sum, want.sumOfSquares],
                        sourceLocation: sourceLocation)
        }

        /// Sort-based reference: the inverse empirical CDF, the ⌈p·n⌉-th smallest value. The
        /// histogram answers within its bin width, plus one more for the blur of re-binning as the
        /// range grows batch by batch.
        @Test(arguments: [(99.99, PercentileObserver.Mode.bothTails), (99.0, .bothTails), (99.9, .magnitude)])
        func percentileMatchesSort(percentile: Double, mode: PercentileObserver.Mode) {
            var random = Random(seed: 11)
            let samples = random.laplace(30_001, location: 0.3, b: 1) + [25, -18, 40]
            let o = QuantizerTests.observed(PercentileObserver(percentile: percentile, mode: mode),
                                           QuantizerTests.batches(samples, size: 1000))
            let p = percentile / 100
            func rank(_ sorted: [Float], _ q: Double) -> Float { sorted[Int((q * Double(sorted.count)).rounded(.up)) - 1] }
            let range = o.clippingRange(bits: 8)
            let tolerance = Float(2 * o.histogram!.binWidth)
            if mode == .bothTails {
                let sorted = samples.sorted()
                #expect(abs(range.lowerBound - rank(sorted, 1 - p)) <= tolerance, "\(range) vs \(rank(sorted, 1 - p))")
                #expect(abs(range.upperBound - rank(sorted, p)) <= tolerance, "\(range) vs \(rank(sorted, p))")
            } else {
                let t = rank(samples.map(\.magnitude).sorted(), p)
                #expect(abs(range.upperBound - t) <= tolerance && abs(range.lowerBound + t) <= tolerance, "\(range) vs ±\(t)")
            }
        }

        @Test func emptyObserversGiveZeroRange() {
            for var o in Self.all {
                o.observe([Float.nan, .infinity, -.infinity])
                o.observe([Float]())
                #expect(o.observedRange == nil && o.clippingRange(bits: 8) == 0...0, "\(type(of: o))")
                #expect(o.parameters(bits: 8).fakeQuantize(0) == 0)
            }
        }

        /// Constants, all-negative and all-positive data: the range includes 0 (exact), and the
        /// data's own values stay within one step.
        static let edgeCases: [[Float]] = [
            [Float](repeating: 3, count: 64), [Float](repeating: -2, count: 64),
            (0..<64).map { (i: Int) -> Float in -5 + 4 * Float(i) / 63 },
            (0..<64).map { (i: Int) -> Float in 1 + Float(i) / 16 },
        ]

        @Test(arguments: edgeCases)
        func edgeInputs(values: [Float]) {
            for o in Self.all {
                let o = QuantizerTests.observed(o, [values, values])
                for bits in [4, 6, 8] {
                    let p = o.parameters(bits: bits)
                    #expect(p.fakeQuantize(0) == 0, "\(type(of: o)) \(bits) bits")
                    for x in [values.min()!, values.max()!] {
                        #expect(abs(p.fakeQuantize(x) - x) <= p.scale * 1.0001, "\(type(of: o)) \(bits) bits: \(x)")
                    }
                }
            }
        }

        /// Persisting after two batches and resuming gives the same state as never stopping.
        @Test func emaMSEPersistsAndResumes() throws {
            var random = Random(seed: 5)
            let batches = (0..<3).map { _ in random.laplace(500, b: 0.7) }
            let straight = QuantizerTests.observed(EMAMSEObserver(binCount: 256), batches)
            let saved = try JSONEncoder().encode(QuantizerTests.observed(EMAMSEObserver(binCount: 256), Array(batches[0..<2])))
            var resumed = try JSONDecoder().decode(EMAMSEObserver.self, from: saved)
            resumed.observe(batches[2])
            #expect(resumed == straight)
            #expect(resumed.parameters(bits: 8) == straight.parameters(bits: 8))
        }

        @Test func emaMSERejectsCorruptState() throws {
            var o = EMAMSEObserver(binCount: 8)
            o.observe([1, 2, 3])
            let json = try #require(String(data: JSONEncoder().encode(o), encoding: .utf8))
            for (from, to) in [("\"momentum\":0.9", "\"momentum\":1.5"), ("\"binCount\":8", "\"binCount\":9"),
                               ("\"batchCount\":1", "\"batchCount\":-1"), ("\"upper\":3", "\"upper\":-3")] {
                #expect(json.contains(from), "\(from) not in \(json)")
                #expect(throws: DecodingError.self, "\(to)") {
                    try JSONDecoder().decode(EMAMSEObserver.self, from: Data(json.replacingOccurrences(of: from, with: to).utf8))
                }
            }
            let negative = json.replacingOccurrences(of: "\"counts\":[", with: "\"counts\":[-1,")
            #expect(negative != json)
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(Histogram.self, from: Data(negative.utf8)) }
        }

        /// Re-binning keeps the mass (tails included) and moves the mean by less than a bin.
        @Test func rebinningConservesMass() {
            var random = Random(seed: 3)
            let samples = random.laplace(5000, location: 1, b: 2)
            var h = Histogram(lower: -4, upper: 8, binCount: 97)
            samples.withUnsafeBufferPointer { h.add($0, weight: 1) }
            let mean = samples.reduce(0.0) { $0 + Double($1) } / Double(samples.count)
            for (lower, upper, bins) in [(-20.0, 20.0, 300), (-1.0, 3.0, 64), (0.5, 30.0, 2048)] {
                let r = h.rebinned(lower: lower, upper: upper, binCount: bins)
                #expect(abs(r.totalMass - 5000) < 1e-9)
                let edges = r.edges
                var moment = r.below.sum + r.above.sum
                for (i, c) in r.masses.enumerated() { moment += c * (edges[i] + edges[i + 1]) / 2 }
                #expect(abs(moment / 5000 - mean) < max(h.binWidth, r.binWidth), "\(lower)...\(upper)")
            }
        }
    }
}
