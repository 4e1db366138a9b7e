/// One detected object, in the source image's pixel coordinates.
public struct Detection: Sendable, Equatable {
    public var label: String
    /// COCO's original sparse category id (1...90).
    public var categoryID: Int
    public var score: Float
    /// x1, y1, x2, y2 in source pixels.
    public var box: (x1: Float, y1: Float, x2: Float, y2: Float)

    public init(label: String, categoryID: Int, score: Float, box: (x1: Float, y1: Float, x2: Float, y2: Float)) {
        self.label = label
        self.categoryID = categoryID
        self.score = score
        self.box = box
    }

    public static func == (a: Detection, b: Detection) -> Bool {
        a.label == b.label && a.categoryID == b.categoryID && a.score == b.score
            && a.box.x1 == b.box.x1 && a.box.y1 == b.box.y1 && a.box.x2 == b.box.x2 && a.box.y2 == b.box.y2
    }
}
