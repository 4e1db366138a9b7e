import Foundation

/// A histogram of activation values with fractional masses (EMA decay and re-binning make them
/// fractional): equal "core" bins over [lower, upper], where the resolution is, and beyond each
/// edge `tailBinCount` bins that widen geometrically (the first as wide as a core bin, each next
/// one 2^¼ wider, reaching ~10⁴ core widths), so that values outside the core — outliers, or the
/// tail of a distribution whose EMA range lags — keep their positions to within 19 %. Anything
/// farther still is kept as moments (mass, Σx, Σx²), which is all the clipping error at an edge
/// short of it needs. Within a bin, mass is taken as uniformly spread: the model under which
/// re-binning, quantiles and the expected clipping error are computed.
///
/// Codable so that an observer's state can be persisted and resumed (online requantization).
struct Histogram: Codable, Sendable, Hashable {
    static let tailBinCount = 96
    static let tailGrowth = 2.0.squareRoot().squareRoot()

    struct Tail: Codable, Sendable, Hashable {
        var mass = 0.0
        var sum = 0.0
        var sumOfSquares = 0.0

        var mean: Double { mass > 0 ? sum / mass : 0 }

        /// Σ (x − c)² over the tail's values.
        func squaredDistance(to c: Double) -> Double { Swift.max(sumOfSquares - 2 * c * sum + c * c * mass, 0) }

        mutating func add(_ x: Double, weight: Double) {
            mass += weight
            sum += weight * x
            sumOfSquares += weight * x * x
        }

        /// Adds `mass` spread uniformly over [u, v].
        mutating func addUniform(mass m: Double, from u: Double, to v: Double) {
            mass += m
            sum += m * (u + v) / 2
            sumOfSquares += m * (u * u + u * v + v * v) / 3
        }

        mutating func add(_ other: Tail) {
            mass += other.mass
            sum += other.sum
            sumOfSquares += other.sumOfSquares
        }

        mutating func scale(by factor: Double) {
            mass *= factor
            sum *= factor
            sumOfSquares *= factor
        }
    }

    private(set) var lower: Double
    private(set) var upper: Double
    private(set) var counts: [Double]
    /// Bin k spans distances [d_k, d_k+1) below `lower` (resp. above `upper`): d_0 = 0,
    /// d_k = width·growth^(k−1).
    private(set) var belowCounts = [Double](repeating: 0, count: tailBinCount)
    private(set) var aboveCounts = [Double](repeating: 0, count: tailBinCount)
    /// Beyond the last tail bin.
    private(set) var below = Tail()
    private(set) var above = Tail()

    /// An empty histogram. A degenerate range (all values equal) is widened by a relative 2^-20 so
    /// that bins keep a positive width; the mass stays where it belongs.
    init(lower: Double, upper: Double, binCount: Int) {
        precondition(binCount >= 1, "a histogram needs a bin")
        precondition(lower.isFinite && upper.isFinite && lower <= upper, "bad histogram range \(lower)...\(upper)")
        self.lower = lower
        self.upper = upper > lower ? upper : lower + Swift.max(lower.magnitude * 0x1p-20, 0x1p-100)
        counts = [Double](repeating: 0, count: binCount)
    }

    var binCount: Int { counts.count }
    var binWidth: Double { (upper - lower) / Double(counts.count) }
    var totalMass: Double { masses.reduce(0, +) + below.mass + above.mass }

    /// Distance from the core's edge to the outer edge of tail bin k − 1 (d_k above).
    func tailDistance(_ k: Int) -> Double { k == 0 ? 0 : binWidth * Foundation.pow(Self.tailGrowth, Double(k - 1)) }

    /// All bin edges, ascending: far below tail, core, far above tail (count = masses.count + 1).
    var edges: [Double] {
        let tail = (0...Self.tailBinCount).map(tailDistance)
        let width = binWidth
        return tail.reversed().map { lower - $0 } + (1..<counts.count).map { lower + Double($0) * width }
            + tail.map { upper + $0 }
    }

    /// Bin masses in the order of `edges`.
    var masses: [Double] { belowCounts.reversed() + counts + aboveCounts }

    func binIndex(_ x: Double) -> Int {
        Swift.min(Swift.max(Int((x - lower) / binWidth), 0), counts.count - 1)
    }

    /// The tail bin holding distance d > 0 from the core, nil beyond the last.
    private func tailIndex(_ d: Double, width: Double) -> Int? {
        let k = d < width ? 0 : 1 + Int(Foundation.log(d / width) / Foundation.log(Self.tailGrowth))
        return k < Self.tailBinCount ? k : nil
    }

    /// Adds every finite value (or its magnitude) with `weight`. Non-finite values are skipped:
    /// they carry no range information.
    mutating func add(_ values: UnsafeBufferPointer<Float>, weight: Double, magnitudes: Bool = false) {
        let width = binWidth
        let inverseWidth = 1 / width
        let last = counts.count - 1
        for v in values where v.isFinite {
            let x = Double(magnitudes ? v.magnitude : v)
            if x < lower {
                if let k = tailIndex(lower - x, width: width) { belowCounts[k] += weight } else { below.add(x, weight: weight) }
            } else if x > upper {
                if let k = tailIndex(x - upper, width: width) { aboveCounts[k] += weight } else { above.add(x, weight: weight) }
            } else {
                counts[Swift.min(Int((x - lower) * inverseWidth), last)] += weight
            }
        }
    }

    mutating func scale(by factor: Double) {
        for i in counts.indices { counts[i] *= factor }
        for i in belowCounts.indices { belowCounts[i] *= factor }
        for i in aboveCounts.indices { aboveCounts[i] *= factor }
        below.scale(by: factor)
        above.scale(by: factor)
    }

    /// The same mass over a new core range and bin count: each old bin's mass is split by overlap
    /// with the new bins (core and tail); parts beyond the new outermost edges join the moment
    /// tails. A moment tail cannot be split — only its moments are known — so it moves whole to
    /// wherever its mean lies.
    func rebinned(lower newLower: Double, upper newUpper: Double, binCount newCount: Int? = nil) -> Histogram {
        var out = Histogram(lower: newLower, upper: newUpper, binCount: newCount ?? counts.count)
        let destination = out.edges
        var result = out.masses
        func segment(containing x: Double) -> Int {
            var (lo, hi) = (0, destination.count - 1)  // destination[lo] ≤ x < destination[hi]
            while hi - lo > 1 { let mid = (lo + hi) / 2; if destination[mid] <= x { lo = mid } else { hi = mid } }
            return lo
        }
        let (first, last) = (destination[0], destination[destination.count - 1])
        for tail in [below, above] where tail.mass > 0 {
            let m = tail.mean
            if m < first { out.below.add(tail) } else if m > last { out.above.add(tail) } else { result[segment(containing: m)] += tail.mass }
        }
        let source = edges
        for (i, mass) in masses.enumerated() where mass > 0 {
            let (u, v) = (source[i], source[i + 1])
            let density = mass / (v - u)
            if u < first { out.below.addUniform(mass: density * (Swift.min(v, first) - u), from: u, to: Swift.min(v, first)) }
            if v > last { out.above.addUniform(mass: density * (v - Swift.max(u, last)), from: Swift.max(u, last), to: v) }
            var a = Swift.max(u, first)
            let b = Swift.min(v, last)
            guard a < b else { continue }
            var j = segment(containing: a)
            while j < result.count, a < b {
                let end = Swift.min(b, destination[j + 1])
                result[j] += density * (end - a)
                (a, j) = (end, j + 1)
            }
        }
        let (tails, core) = (Self.tailBinCount, out.counts.count)
        out.belowCounts = result[0..<tails].reversed()
        out.counts = Array(result[tails..<tails + core])
        out.aboveCounts = Array(result[(tails + core)...])
        return out
    }

    /// Grows the core range (re-binning) so that it covers [lower, upper]; never shrinks it.
    mutating func extend(toCover newLower: Double, _ newUpper: Double) {
        guard newLower < lower || newUpper > upper else { return }
        self = rebinned(lower: Swift.min(lower, newLower), upper: Swift.max(upper, newUpper))
    }

    /// The x where the mass below x reaches fraction p of the total (inverse CDF of the piecewise
    /// uniform density). Mass in a moment tail answers with the outermost edge. Empty: `lower`.
    func quantile(_ p: Double) -> Double {
        precondition((0...1).contains(p), "quantile \(p) outside [0, 1]")
        let total = totalMass
        let target = p * total
        let edges = edges
        var cumulative = below.mass
        if total == 0 { return lower }
        if cumulative > 0 && target <= cumulative { return edges[0] }
        for (i, mass) in masses.enumerated() where mass > 0 {
            if cumulative + mass >= target {
                return edges[i] + (target - cumulative) / mass * (edges[i + 1] - edges[i])
            }
            cumulative += mass
        }
        return edges[edges.count - 1]
    }
}

extension Histogram {
    private enum CodingKeys: String, CodingKey { case lower, upper, counts, belowCounts, aboveCounts, below, above }

    /// Decoding checks what `init` guarantees: a finite non-empty range, bins, finite non-negative
    /// masses — persisted state may be truncated or tampered with. (`Swift.Decoder`: QRTCore has
    /// its own `Decoder`, the RT-DETR decoder.)
    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        lower = try c.decode(Double.self, forKey: .lower)
        upper = try c.decode(Double.self, forKey: .upper)
        counts = try c.decode([Double].self, forKey: .counts)
        belowCounts = try c.decode([Double].self, forKey: .belowCounts)
        aboveCounts = try c.decode([Double].self, forKey: .aboveCounts)
        below = try c.decode(Tail.self, forKey: .below)
        above = try c.decode(Tail.self, forKey: .above)
        guard lower.isFinite, upper.isFinite, lower < upper else {
            throw DecodingError.dataCorruptedError(forKey: .upper, in: c, debugDescription: "range \(lower)...\(upper) is empty or not finite")
        }
        for (key, bins) in [(CodingKeys.counts, counts), (.belowCounts, belowCounts), (.aboveCounts, aboveCounts)] {
            guard !bins.isEmpty, key == .counts || bins.count == Self.tailBinCount else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(bins.count) bins")
            }
            guard bins.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "a negative or non-finite mass")
            }
        }
        for (key, tail) in [(CodingKeys.below, below), (.above, above)]
        where !(tail.mass.isFinite && tail.mass >= 0 && tail.sum.isFinite && tail.sumOfSquares.isFinite && tail.sumOfSquares >= 0) {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "tail moments invalid")
        }
    }
}
