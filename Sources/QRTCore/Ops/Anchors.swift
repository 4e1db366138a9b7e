#if canImport(Glibc)
import Glibc
#endif

/// The encoder's anchor boxes, transformers' `RTDetrModel.generate_anchors`.
enum Anchors {
    /// Anchors of every level, concatenated in level order, each level row-major (y outer, x inner).
    struct Table: Sendable, Equatable {
        /// Number of anchors, Σ height·width.
        let count: Int
        /// [count, 4]: logit(cx), logit(cy), logit(w), logit(h); an invalid anchor holds
        /// `Float.greatestFiniteMagnitude` in all four, as torch's `finfo(float32).max`.
        let logits: [Float]
        /// Whether all four normalized coordinates lie strictly inside (0.01, 0.99). The encoder
        /// multiplies its memory by this mask before the score head.
        let valid: [Bool]
    }

    /// Level l, cell (y, x) of an H×W map: cx = (x + 0.5) / W, cy = (y + 0.5) / H,
    /// w = h = gridSize · 2ˡ; then valid = all in (0.01, 0.99) and logits = log(a / (1 − a)).
    /// All in float32 with torch's operation order, so the result matches it bit for bit except for
    /// `logf` rounding (≤ 1 ulp). Computed once per input size.
    static func generate(levels: [SpatialShape], gridSize: Float = 0.05) -> Table {
        let count = levels.reduce(0) { $0 + $1.count }
        var logits = [Float](repeating: 0, count: 4 * count)
        var valid = [Bool](repeating: false, count: count)
        let low = Float(0.01 as Double), high = Float(1 - 0.01 as Double)
        var anchor = 0
        for (level, shape) in levels.enumerated() {
            let size = gridSize * Float(sign: .plus, exponent: level, significand: 1)
            for y in 0..<shape.height {
                for x in 0..<shape.width {
                    let box = SIMD4<Float>((Float(x) + 0.5) / Float(shape.width),
                                           (Float(y) + 0.5) / Float(shape.height), size, size)
                    let inside = all((box .> low) .& (box .< high))
                    valid[anchor] = inside
                    for j in 0..<4 {
                        logits[4 * anchor + j] = inside ? logf(box[j] / (1 - box[j])) : .greatestFiniteMagnitude
                    }
                    anchor += 1
                }
            }
        }
        return Table(count: count, logits: logits, valid: valid)
    }
}
