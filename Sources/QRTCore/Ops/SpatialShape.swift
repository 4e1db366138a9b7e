/// The size of one feature level, in (height, width) order as transformers' `spatial_shapes`.
struct SpatialShape: Hashable, Sendable {
    var height: Int
    var width: Int

    init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    /// Tokens in this level (height · width).
    var count: Int { height * width }
}
