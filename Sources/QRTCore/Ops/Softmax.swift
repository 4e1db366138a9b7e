/// Softmax over the last dimension of a [rows, columns] matrix, in place.
enum Softmax {
    typealias V = VectorMath.V

    /// x ← exp(x − max) / Σ exp(x − max), row by row (torch's `softmax(dim=-1)`). A row that is all
    /// −inf becomes NaN, as in torch.
    static func rows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        precondition(columns > 0, "softmax over an empty dimension")
        let vectorEnd = columns & ~15
        for row in 0..<rows {
            let r = x + row * columns

            var maxV = V(repeating: -.infinity)
            var i = 0
            while i < vectorEnd {
                let v = VectorMath.load(r + i)
                maxV = maxV.replacing(with: v, where: v .> maxV)
                i += 16
            }
            var rowMax = maxV.max()
            while i < columns { rowMax = Swift.max(rowMax, r[i]); i += 1 }

            // exp (a loop the compiler vectorizes), then a 16-lane sum, then the scale.
            for c in 0..<columns { r[c] = VectorMath.exp(r[c] - rowMax) }
            var sumV = V()
            i = 0
            while i < vectorEnd { sumV += VectorMath.load(r + i); i += 16 }
            var sum = sumV.sum()
            while i < columns { sum += r[i]; i += 1 }
            let scale = 1 / sum
            for c in 0..<columns { r[c] *= scale }
        }
    }
}
