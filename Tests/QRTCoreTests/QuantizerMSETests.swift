import Foundation
import Testing
@testable import QRTCore

extension QuantizerTests {
    /// The MSE search against brute force computed directly on the samples.
    @Suite struct MSETests {
        enum Data: String, CaseIterable {
            case laplace, studentT

            /// Long-tailed and asymmetric; `outliers` adds a few far values that stretch MinMax.
            func samples(count: Int = 8000, outliers: Bool = true) -> [Float] {
                var random = Random(seed: self == .laplace ? 1 : 2)
                switch self {
                case .laplace: return random.laplace(count, location: 0.4, b: 1) + (outliers ? [30, -22, 45] : [])
                case .studentT: return random.studentT(count, degrees: 3, scale: 0.5) + (outliers ? [-40, 28] : [])
                }
            }
        }

        /// Named limits: the search's range is within this fraction of the brute-force optimum's MSE.
        /// At 4 bits a step spans a visible change of density, so Δ²/12 is less exact there.
        static func tolerance(bits: Int) -> Double { bits == 4 ? 0.05 : 0.02 }

        /// MinMax's MSE over the MSE observer's, at least: with 8000 samples clipping an outlier
        /// costs its whole distance, so at 8 bits MinMax is already close to optimal; with fewer
        /// levels the rounding error dominates and clipping pays off.
        static func gainOverMinMax(bits: Int) -> Double { [8: 1, 6: 1.15, 4: 1.5][bits]! }

        @Test(arguments: Data.allCases, [8, 6, 4])
        func mseFindsBruteForceOptimum(data: Data, bits: Int) {
            let samples = data.samples()
            let batches = QuantizerTests.batches(samples, size: 1000)
            let mse = QuantizerTests.sampleMSE(samples, QuantizerTests.observed(MSEObserver(), batches).parameters(bits: bits))
            let minMax = QuantizerTests.sampleMSE(samples, QuantizerTests.observed(MinMaxObserver(), batches).parameters(bits: bits))
            let brute = QuantizerTests.bruteForceBestMSE(samples, bits: bits)
            #expect(mse <= brute.mse * (1 + Self.tolerance(bits: bits)),
                    "\(data) \(bits) bits: MSE observer \(mse), brute force \(brute.mse) at \(brute.range)")
            #expect(mse * Self.gainOverMinMax(bits: bits) < minMax, "\(data) \(bits) bits: MSE \(mse) vs MinMax \(minMax)")
        }

        /// The model's expected error tracks the error measured on the samples, for clipping ranges
        /// from generous to tight (at 8 bits, where Δ²/12 holds).
        @Test(arguments: Data.allCases)
        func expectedErrorMatchesSamples(data: Data) {
            let samples = data.samples()
            var histogram = Histogram(lower: Double(samples.min()!), upper: Double(samples.max()!), binCount: 2048)
            samples.withUnsafeBufferPointer { histogram.add($0, weight: 1) }
            let model = QuantizationErrorModel(histogram)
            for range: ClosedRange<Float> in [-3...3, -6...9, -1...2, -20...40] {
                let p = QuantizationParameters.asymmetric(range: range, bits: 8)
                let measured = QuantizerTests.sampleMSE(samples, p)
                let expected = model.expectedSquaredError(p)
                #expect(abs(expected - measured) <= 0.05 * measured, "\(data) \(range): model \(expected), samples \(measured)")
            }
        }

        /// On a stationary stream EMA-MSE's range is about as good as MSE's over all the data. Its
        /// range never leaves the EMA of the batch extremes, so batches must be large enough for
        /// those to reach the optimal clip (≈ 10 b for a Laplace(b) at 8 bits): activation tensors
        /// are (≥ 10⁴ values per image); here batches of 2500.
        @Test(arguments: Data.allCases, [8, 6, 4])
        func emaMSEOnStationaryData(data: Data, bits: Int) {
            let samples = data.samples(count: 25_000, outliers: false)
            let batches = QuantizerTests.batches(samples, size: 2500)
            let o = QuantizerTests.observed(EMAMSEObserver(), batches)
            let reference = QuantizerTests.sampleMSE(samples, QuantizerTests.observed(MSEObserver(), batches).parameters(bits: bits))
            let tracked = QuantizerTests.sampleMSE(samples, o.parameters(bits: bits))
            #expect(tracked <= reference * 1.1, "\(data) \(bits) bits: EMA-MSE \(tracked), MSE \(reference)")
            #expect(o.expectedSquaredError(o.parameters(bits: bits)) == o.optimalClipping(bits: bits)!.expectedSquaredError)
        }

        /// After the data's scale triples, the EMA histogram forgets the old distribution: within a
        /// few dozen batches its choice is as good on the new data as an MSE search on the new data.
        @Test func emaMSEFollowsAShift() {
            var random = Random(seed: 9)
            var o = EMAMSEObserver(momentum: 0.9)
            for _ in 0..<20 { o.observe(random.laplace(1000, b: 1)) }
            let after = (0..<40).map { _ in random.laplace(1000, b: 3) }
            for batch in after { o.observe(batch) }
            let recent = Array(after.suffix(10).joined())
            let reference = QuantizerTests.sampleMSE(recent, QuantizerTests.observed(MSEObserver(), [recent]).parameters(bits: 4))
            let tracked = QuantizerTests.sampleMSE(recent, o.parameters(bits: 4))
            #expect(tracked <= reference * 1.1, "EMA-MSE \(tracked) vs MSE on the new data \(reference)")
        }
    }
}
