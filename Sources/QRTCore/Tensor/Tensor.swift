/// A dense FP32 tensor. Image-like tensors are NHWC; token tensors are [tokens, channels].
///
/// A `Tensor` owns 64-byte aligned storage (oneDNN and AVX-512 loads prefer it). Activations are
/// not allocated per frame: they come from an `ActivationArena`, which hands the same tensors back
/// on every run once their shapes are known.
public final class Tensor: @unchecked Sendable {
    public private(set) var shape: [Int]
    public let capacity: Int
    public let data: UnsafeMutablePointer<Float>

    public var count: Int { shape.reduce(1, *) }

    public init(shape: [Int], capacity: Int? = nil) {
        let count = shape.reduce(1, *)
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.capacity = max(capacity ?? count, count, 1)
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: self.capacity * MemoryLayout<Float>.stride, alignment: 64)
        self.data = raw.bindMemory(to: Float.self, capacity: self.capacity)
        self.data.initialize(repeating: 0, count: self.capacity)
    }

    public convenience init(shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(shape: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { UnsafeMutableRawPointer(data).deallocate() }

    /// Changes the logical shape within the existing storage (no copy, no allocation).
    public func reshape(_ newShape: [Int]) {
        let newCount = newShape.reduce(1, *)
        precondition(newCount <= capacity, "reshape \(shape) → \(newShape) exceeds capacity \(capacity)")
        shape = newShape
    }

    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: data, count: count)
    }

    public func toArray() -> [Float] { Array(buffer) }

    public func copy(from other: Tensor) {
        reshape(other.shape)
        data.update(from: other.data, count: other.count)
    }
}

/// Activation storage reused across frames: each named slot keeps its tensor, reallocated only
/// when a larger shape is asked for (a new input size), so steady-state inference allocates nothing.
public final class ActivationArena: @unchecked Sendable {
    private var slots: [String: Tensor] = [:]

    public init() {}

    public func tensor(_ name: String, _ shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        if let existing = slots[name], existing.capacity >= count {
            existing.reshape(shape)
            return existing
        }
        let fresh = Tensor(shape: shape)
        slots[name] = fresh
        return fresh
    }

    public var totalBytes: Int { slots.values.reduce(0) { $0 + $1.capacity * 4 } }
}
