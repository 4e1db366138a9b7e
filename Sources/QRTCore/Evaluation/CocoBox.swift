/// A COCO box: left, top, width and height in source pixels (the `bbox` of COCO's files).
public struct CocoBox: Sendable, Equatable, Hashable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// From corners (x1, y1) top-left and (x2, y2) bottom-right, as `Detection` holds them.
    public init(x1: Double, y1: Double, x2: Double, y2: Double) {
        self.init(x: x1, y: y1, width: x2 - x1, height: y2 - y1)
    }

    /// width × height: what pycocotools' `loadRes` stores as a detection's area.
    public var area: Double { width * height }

    /// Intersection over union as pycocotools computes it for bbox (`bbIou` in maskApi.c): no
    /// overlap (or touching edges) gives 0; against a crowd region the union is the detection's own
    /// area, so a detection inside a crowd scores 1.
    public static func iou(detection d: CocoBox, groundTruth g: CocoBox, crowd: Bool) -> Double {
        let w = min(d.width + d.x, g.width + g.x) - max(d.x, g.x)
        guard w > 0 else { return 0 }
        let h = min(d.height + d.y, g.height + g.y) - max(d.y, g.y)
        guard h > 0 else { return 0 }
        let intersection = w * h
        let union = crowd ? d.area : d.area + g.area - intersection
        return intersection / union
    }
}
