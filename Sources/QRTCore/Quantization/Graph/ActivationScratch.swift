/// Per-layer buffers for the quantized input, grown once and reused on every frame.
final class ActivationScratch {
    private var floatBuffer: Tensor?
    private var byteBuffer: UnsafeMutablePointer<UInt8>?
    private var byteCapacity = 0

    func floats(like input: Tensor) -> Tensor {
        floats(shape: input.shape)
    }

    func floats(shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        if let buffer = floatBuffer, buffer.capacity >= count {
            buffer.reshape(shape)
            return buffer
        }
        let buffer = Tensor(shape: shape)
        floatBuffer = buffer
        return buffer
    }

    func bytes(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        if let buffer = byteBuffer, byteCapacity >= count { return buffer }
        byteBuffer?.deallocate()
        byteBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
        byteCapacity = count
        return byteBuffer!
    }

    deinit { byteBuffer?.deallocate() }
}
