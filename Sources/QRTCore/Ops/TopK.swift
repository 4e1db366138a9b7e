/// Selection of the k largest values without sorting the whole array.
enum TopK {
    typealias V = VectorMath.V

    /// Writes the indices and values of the `k` largest of `count` floats, largest first; equal
    /// values come in ascending index order (deterministic; torch's CPU order among ties is
    /// unspecified). NaN is never selected. Returns how many were written: min(k, non-NaN count).
    ///
    /// A k-entry min-heap kept in the two output buffers (no other memory); values that cannot
    /// enter it are rejected 16 at a time against the heap's minimum, so the usual cost is one
    /// vector compare per 16 values plus O(k log k) for the final ordering.
    @discardableResult
    static func largest(_ values: UnsafePointer<Float>, count: Int, k: Int,
                        indices: UnsafeMutablePointer<Int>, topValues: UnsafeMutablePointer<Float>) -> Int {
        let capacity = min(k, count)
        guard capacity > 0 else { return 0 }
        var heap = Heap(values: topValues, indices: indices, size: 0)

        var i = 0
        while heap.size < capacity && i < count {
            if !values[i].isNaN { heap.push(values[i], i) }
            i += 1
        }
        if heap.size == capacity {
            var threshold = topValues[0]
            while i + 16 <= count {
                if any(VectorMath.load(values + i) .> V(repeating: threshold)) {
                    for j in i..<(i + 16) where values[j] > threshold {
                        heap.replaceMinimum(values[j], j)
                        threshold = topValues[0]
                    }
                }
                i += 16
            }
            while i < count {
                if values[i] > threshold {
                    heap.replaceMinimum(values[i], i)
                    threshold = topValues[0]
                }
                i += 1
            }
        }
        heap.sortDescending()
        return heap.size
    }

    /// A binary min-heap under "worse" order (lower value, or equal value and higher index), so the
    /// root is the entry to evict. An incoming index is always higher than every stored one, hence
    /// a newcomer replaces the root only when its value is strictly greater.
    private struct Heap {
        let values: UnsafeMutablePointer<Float>
        let indices: UnsafeMutablePointer<Int>
        var size: Int

        @inline(__always)
        func worse(_ a: Int, _ b: Int) -> Bool {
            values[a] < values[b] || (values[a] == values[b] && indices[a] > indices[b])
        }

        @inline(__always)
        func swapAt(_ a: Int, _ b: Int) {
            swap(&values[a], &values[b])
            swap(&indices[a], &indices[b])
        }

        mutating func push(_ value: Float, _ index: Int) {
            var child = size
            values[child] = value
            indices[child] = index
            size += 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard worse(child, parent) else { break }
                swapAt(child, parent)
                child = parent
            }
        }

        func replaceMinimum(_ value: Float, _ index: Int) {
            values[0] = value
            indices[0] = index
            siftDown(0, size)
        }

        func siftDown(_ start: Int, _ end: Int) {
            var parent = start
            while true {
                let left = 2 * parent + 1
                guard left < end else { return }
                var child = left
                if left + 1 < end && worse(left + 1, left) { child = left + 1 }
                guard worse(child, parent) else { return }
                swapAt(child, parent)
                parent = child
            }
        }

        /// Heap sort: repeatedly moves the worst entry to the end, leaving the best first.
        func sortDescending() {
            var end = size - 1
            while end > 0 {
                swapAt(0, end)
                siftDown(0, end)
                end -= 1
            }
        }
    }
}
