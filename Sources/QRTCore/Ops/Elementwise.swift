/// Element-wise arithmetic on contiguous floats.
enum Elementwise {
    typealias V = VectorMath.V

    /// out[i] = a[i] + b[i]; `out` may be `a` or `b`.
    static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                    count: Int) {
        var i = 0
        while i + 16 <= count {
            VectorMath.store(VectorMath.load(a + i) + VectorMath.load(b + i), out + i)
            i += 16
        }
        while i < count {
            out[i] = a[i] + b[i]
            i += 1
        }
    }

    /// x[i] += y[i].
    static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        add(UnsafePointer(x), y, into: x, count: count)
    }
}
