import Foundation

/// A COCO ground truth: the `images`, `annotations` and `categories` of an `instances.json`.
///
/// Loading is strict: every image, annotation and category field the evaluation needs must be
/// there with the right type, ids must be unique, and annotations must name a listed image and
/// category. Other fields (segmentation, licenses, info) are skipped.
public struct CocoGroundTruth: Sendable {
    public struct Image: Sendable, Equatable {
        public var id: Int
        public var fileName: String
        public var width: Int
        public var height: Int

        public init(id: Int, fileName: String, width: Int, height: Int) {
            self.id = id
            self.fileName = fileName
            self.width = width
            self.height = height
        }
    }

    public struct Annotation: Sendable, Equatable {
        public var id: Int
        public var imageID: Int
        public var categoryID: Int
        public var box: CocoBox
        /// The `area` field (the segmentation's area in COCO), which sorts objects into
        /// small / medium / large — not the box's area.
        public var area: Double
        public var isCrowd: Bool
        /// The optional `ignore` field. pycocotools overwrites it with `iscrowd`, so the evaluator
        /// reads it only when `CocoEvaluator.Parameters.honorsIgnoreField` is set.
        public var ignore: Bool

        public init(id: Int, imageID: Int, categoryID: Int, box: CocoBox, area: Double, isCrowd: Bool = false,
                    ignore: Bool = false) {
            self.id = id
            self.imageID = imageID
            self.categoryID = categoryID
            self.box = box
            self.area = area
            self.isCrowd = isCrowd
            self.ignore = ignore
        }
    }

    public struct Category: Sendable, Equatable {
        public var id: Int
        public var name: String

        public init(id: Int, name: String) {
            self.id = id
            self.name = name
        }
    }

    public var images: [Image]
    public var annotations: [Annotation]
    public var categories: [Category]

    /// Checks what the loader checks (unique ids, annotations on listed images and categories).
    public init(images: [Image], annotations: [Annotation], categories: [Category], source: String = "<ground truth>")
        throws(CocoDataError)
    {
        self.images = images
        self.annotations = annotations
        self.categories = categories
        try validate(source)
    }

    /// Reads an `instances.json`.
    public static func load(contentsOf url: URL) throws(CocoDataError) -> CocoGroundTruth {
        let (reader, root) = try CocoJSON.read(url)
        return try CocoGroundTruth(root, reader)
    }

    /// Parses the bytes of an `instances.json`; `file` names it in errors.
    public init(json data: Data, file: String = "instances.json") throws(CocoDataError) {
        let reader = CocoJSON(file: file)
        try self.init(reader.parse(data), reader)
    }

    private init(_ root: CheckpointJSON.Value, _ reader: CocoJSON) throws(CocoDataError) {
        let top = try reader.object(root, "top level")
        images = []
        for (index, value) in try reader.array(reader.required(top, "images", "top level"), "images").enumerated() {
            let path = "images[\(index)]"
            let fields = try reader.object(value, path)
            images.append(Image(
                id: try reader.integer(reader.required(fields, "id", path), path + ".id"),
                fileName: try reader.string(reader.required(fields, "file_name", path), path + ".file_name"),
                width: try reader.integer(reader.required(fields, "width", path), path + ".width"),
                height: try reader.integer(reader.required(fields, "height", path), path + ".height")))
        }
        annotations = []
        let annotationList = try reader.array(reader.required(top, "annotations", "top level"), "annotations")
        annotations.reserveCapacity(annotationList.count)
        for (index, value) in annotationList.enumerated() {
            let path = "annotations[\(index)]"
            let fields = try reader.object(value, path)
            let area = try reader.number(reader.required(fields, "area", path), path + ".area")
            guard area >= 0 else { throw reader.fail(path + ".area", "must not be negative, got \(area)") }
            annotations.append(Annotation(
                id: try reader.integer(reader.required(fields, "id", path), path + ".id"),
                imageID: try reader.integer(reader.required(fields, "image_id", path), path + ".image_id"),
                categoryID: try reader.integer(reader.required(fields, "category_id", path), path + ".category_id"),
                box: try reader.box(reader.required(fields, "bbox", path), path + ".bbox"),
                area: area,
                isCrowd: try fields["iscrowd"].map { v throws(CocoDataError) in try reader.flag(v, path + ".iscrowd") } ?? false,
                ignore: try fields["ignore"].map { v throws(CocoDataError) in try reader.flag(v, path + ".ignore") } ?? false))
        }
        categories = []
        for (index, value) in try reader.array(reader.required(top, "categories", "top level"), "categories").enumerated() {
            let path = "categories[\(index)]"
            let fields = try reader.object(value, path)
            categories.append(Category(
                id: try reader.integer(reader.required(fields, "id", path), path + ".id"),
                name: try reader.string(reader.required(fields, "name", path), path + ".name")))
        }
        try validate(reader.file)
    }

    private func validate(_ file: String) throws(CocoDataError) {
        var imageIDs = Set<Int>()
        for (index, image) in images.enumerated() where !imageIDs.insert(image.id).inserted {
            throw CocoDataError(file: file, field: "images[\(index)].id", "duplicate image id \(image.id)")
        }
        var categoryIDs = Set<Int>()
        for (index, category) in categories.enumerated() where !categoryIDs.insert(category.id).inserted {
            throw CocoDataError(file: file, field: "categories[\(index)].id", "duplicate category id \(category.id)")
        }
        var annotationIDs = Set<Int>()
        for (index, annotation) in annotations.enumerated() {
            let path = "annotations[\(index)]"
            guard annotationIDs.insert(annotation.id).inserted else {
                throw CocoDataError(file: file, field: path + ".id", "duplicate annotation id \(annotation.id)")
            }
            guard imageIDs.contains(annotation.imageID) else {
                throw CocoDataError(file: file, field: path + ".image_id", "image \(annotation.imageID) is not in 'images'")
            }
            guard categoryIDs.contains(annotation.categoryID) else {
                throw CocoDataError(file: file, field: path + ".category_id",
                                    "category \(annotation.categoryID) is not in 'categories'")
            }
        }
    }

    /// The same ground truth on a subset of its images (pycocotools' `params.imgIds`); the
    /// categories stay. Ids not in the ground truth are left out.
    public func restricted(toImages ids: Set<Int>) -> CocoGroundTruth {
        var subset = self
        subset.images = images.filter { ids.contains($0.id) }
        subset.annotations = annotations.filter { ids.contains($0.imageID) }
        return subset
    }

    /// Detections taken as ground truth ("pseudo labels"), as FP-agreement scoring uses them: each
    /// detection with score ≥ `minimumScore` on a listed image and category becomes an annotation
    /// with area = its box's area, not crowd, ids 1, 2, … in the detections' order.
    public static func pseudoLabels(from detections: [CocoDetection], images: [Image], categories: [Category],
                                    minimumScore: Double = 0.5) -> CocoGroundTruth {
        let imageIDs = Set(images.map(\.id))
        let categoryIDs = Set(categories.map(\.id))
        var annotations: [Annotation] = []
        for detection in detections
        where detection.score >= minimumScore && imageIDs.contains(detection.imageID)
            && categoryIDs.contains(detection.categoryID)
        {
            annotations.append(Annotation(
                id: annotations.count + 1, imageID: detection.imageID, categoryID: detection.categoryID,
                box: detection.box, area: detection.box.area))
        }
        var truth = CocoGroundTruth(unchecked: images, categories: categories)
        truth.annotations = annotations
        return truth
    }

    private init(unchecked images: [Image], categories: [Category]) {
        self.images = images
        self.annotations = []
        self.categories = categories
    }
}
