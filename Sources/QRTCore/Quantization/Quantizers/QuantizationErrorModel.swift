/// The expected squared error of fake-quantizing data distributed as a histogram, and the clipping
/// range that minimizes it — the "MSE" in MSE and EMA-MSE.
///
/// For parameters whose grid reaches [a, b] with step Δ: values outside cost their clipping error
/// (x − a)² or (x − b)², values inside cost Δ²/12, the mean squared rounding error of a uniform
/// spread over a step. Prefix sums of the bins' mass and first two moments make each evaluation
/// O(log bins), so the search can afford a dense two-sided grid.
struct QuantizationErrorModel: Sendable {
    /// A clipping range, the parameters built from it, and their expected squared error per value.
    struct Choice: Sendable, Hashable {
        let range: ClosedRange<Float>
        let parameters: QuantizationParameters
        let expectedSquaredError: Double
    }

    let histogram: Histogram
    private let edges: [Double]
    private let masses: [Double]
    /// Prefix sums over bins 0..<k of mass, Σx and Σx² (uniform within a bin).
    private let mass: [Double]
    private let first: [Double]
    private let second: [Double]

    init(_ histogram: Histogram) {
        self.histogram = histogram
        edges = histogram.edges
        masses = histogram.masses
        var (mass, first, second) = ([0.0], [0.0], [0.0])
        for (i, c) in masses.enumerated() {
            let (u, v) = (edges[i], edges[i + 1])
            mass.append(mass[i] + c)
            first.append(first[i] + c * (u + v) / 2)
            second.append(second[i] + c * (u * u + u * v + v * v) / 3)
        }
        (self.mass, self.first, self.second) = (mass, first, second)
    }

    /// Mean squared error per value of `parameters` on this distribution (0 for an empty one).
    func expectedSquaredError(_ parameters: QuantizationParameters) -> Double {
        let total = mass[masses.count] + histogram.below.mass + histogram.above.mass
        guard total > 0 else { return 0 }
        let range = parameters.representableRange
        let low = clipped(Double(range.lowerBound), below: true)
        let high = clipped(Double(range.upperBound), below: false)
        let step = Double(parameters.scale)
        let inside = Swift.max(total - low.mass - high.mass, 0)
        return (low.error + high.error + inside * step * step / 12) / total
    }

    /// The range [a, b] ∋ 0 with the least expected error at `bits`. Candidates for each end:
    /// `gridSize` + 1 fractions of the core range's end (where the resolution is), and the bin
    /// edges out to the farthest mass in the tails (so an outlier or a lagging EMA range can still
    /// be covered); then a grid `refinement` times finer between the best's neighbours. The two
    /// ends move independently: activation distributions are rarely symmetric. Ties keep the
    /// earlier, wider candidate. An empty histogram gives 0...0.
    func optimalRange(bits: Int, gridSize: Int = 100, refinement: Int = 10) -> Choice {
        precondition(gridSize >= 1 && refinement >= 1, "empty search grid")
        let lows = candidates(below: true, gridSize: gridSize)
        let highs = candidates(below: false, gridSize: gridSize)
        var best = evaluate(lows[0], highs[0], bits: bits)
        func scan(_ a: [Double], _ b: [Double]) {
            for x in a {
                for y in b {
                    let candidate = evaluate(x, y, bits: bits)
                    if candidate.expectedSquaredError < best.expectedSquaredError { best = candidate }
                }
            }
        }
        scan(lows, highs)
        func finer(_ list: [Double], around value: Float) -> [Double] {
            guard let i = list.firstIndex(where: { Float($0) == value }) else { return [Double(value)] }
            let previous = list[Swift.max(i - 1, 0)], next = list[Swift.min(i + 1, list.count - 1)]
            return [list[i]] + (1..<refinement).flatMap { k in
                let f = Double(k) / Double(refinement)
                return [list[i] + (previous - list[i]) * f, list[i] + (next - list[i]) * f]
            }
        }
        scan(finer(lows, around: best.range.lowerBound), finer(highs, around: best.range.upperBound))
        return best
    }

    /// One end's candidates, outermost first: the moment tail's mean, the tail bins' outer edges
    /// out to the farthest mass, then fractions of the core's end (min(lower, 0) or max(upper, 0)).
    private func candidates(below: Bool, gridSize: Int) -> [Double] {
        let h = histogram
        let end = below ? Swift.min(h.lower, 0) : Swift.max(h.upper, 0)
        let core = end == 0 ? [0] : (0...gridSize).map { end * (1 - Double($0) / Double(gridSize)) }
        let moment = below ? h.below : h.above
        var outer = moment.mass > 0 ? [moment.mean] : []
        if let farthest = (below ? h.belowCounts : h.aboveCounts).lastIndex(where: { $0 > 0 }) {
            outer += (1...farthest + 1).reversed().map { below ? h.lower - h.tailDistance($0) : h.upper + h.tailDistance($0) }
        }
        return outer.filter { below ? $0 < end : $0 > end } + core
    }

    private func evaluate(_ a: Double, _ b: Double, bits: Int) -> Choice {
        let range = Float(a)...Float(b)
        let parameters = QuantizationParameters.asymmetric(range: range, bits: bits)
        return Choice(range: range, parameters: parameters, expectedSquaredError: expectedSquaredError(parameters))
    }

    /// The bin holding x, for edges[0] ≤ x < edges.last.
    private func bin(containing x: Double) -> Int {
        var (lo, hi) = (0, edges.count - 1)
        while hi - lo > 1 { let mid = (lo + hi) / 2; if edges[mid] <= x { lo = mid } else { hi = mid } }
        return lo
    }

    /// Mass beyond c (below it, or above it) and its Σ (x − c)².
    private func clipped(_ c: Double, below: Bool) -> (mass: Double, error: Double) {
        let n = masses.count
        // Σ (x − c)² over bins lo..<hi, from the prefix sums.
        func bins(_ lo: Int, _ hi: Int) -> (mass: Double, error: Double) {
            let m = mass[hi] - mass[lo]
            return (m, Swift.max((second[hi] - second[lo]) - 2 * c * (first[hi] - first[lo]) + c * c * m, 0))
        }
        var result = (mass: 0.0, error: 0.0)
        func add(_ part: (mass: Double, error: Double)) { result.mass += part.mass; result.error += part.error }
        // Moment tails: the near one is clipped unless c lies beyond all the bins (then by its mean).
        let (near, far) = below ? (histogram.below, histogram.above) : (histogram.above, histogram.below)
        if near.mass > 0, below ? (c >= edges[0] || near.mean < c) : (c <= edges[n] || near.mean > c) {
            add((near.mass, near.squaredDistance(to: c)))
        }
        if far.mass > 0, below ? far.mean < c : far.mean > c { add((far.mass, far.squaredDistance(to: c))) }
        if below ? c <= edges[0] : c >= edges[n] { return result }
        if below ? c >= edges[n] : c <= edges[0] { add(bins(0, n)); return result }
        let k = bin(containing: c)
        add(below ? bins(0, k) : bins(k + 1, n))
        // The part of bin k beyond c, uniform over its share of the bin.
        let (u, v) = (edges[k], edges[k + 1])
        let d = below ? c - u : v - c
        let part = masses[k] * d / (v - u)
        add((part, part * d * d / 3))
        return result
    }
}
