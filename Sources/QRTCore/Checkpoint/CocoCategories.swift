/// COCO 2017's 80 detection categories in the order detectors number their classes (0…79), with
/// the original sparse category ids (1…90) that COCO annotations and evaluation use.
///
/// RT-DETR checkpoints trained on COCO have `id2label` 0…79 in this order; postprocessing maps a
/// class index to the category id here before writing detections or scoring against COCO.
public enum CocoCategories {
    public struct Category: Sendable, Equatable {
        /// The detector's class index, 0…79.
        public let classIndex: Int
        /// COCO's original category id, 1…90 (with gaps).
        public let id: Int
        public let name: String
    }

    public static let all: [Category] = [
        Category(classIndex: 0, id: 1, name: "person"),
        Category(classIndex: 1, id: 2, name: "bicycle"),
        Category(classIndex: 2, id: 3, name: "car"),
        Category(classIndex: 3, id: 4, name: "motorcycle"),
        Category(classIndex: 4, id: 5, name: "airplane"),
        Category(classIndex: 5, id: 6, name: "bus"),
        Category(classIndex: 6, id: 7, name: "train"),
        Category(classIndex: 7, id: 8, name: "truck"),
        Category(classIndex: 8, id: 9, name: "boat"),
        Category(classIndex: 9, id: 10, name: "traffic light"),
        Category(classIndex: 10, id: 11, name: "fire hydrant"),
        Category(classIndex: 11, id: 13, name: "stop sign"),
        Category(classIndex: 12, id: 14, name: "parking meter"),
        Category(classIndex: 13, id: 15, name: "bench"),
        Category(classIndex: 14, id: 16, name: "bird"),
        Category(classIndex: 15, id: 17, name: "cat"),
        Category(classIndex: 16, id: 18, name: "dog"),
        Category(classIndex: 17, id: 19, name: "horse"),
        Category(classIndex: 18, id: 20, name: "sheep"),
        Category(classIndex: 19, id: 21, name: "cow"),
        Category(classIndex: 20, id: 22, name: "elephant"),
        Category(classIndex: 21, id: 23, name: "bear"),
        Category(classIndex: 22, id: 24, name: "zebra"),
        Category(classIndex: 23, id: 25, name: "giraffe"),
        Category(classIndex: 24, id: 27, name: "backpack"),
        Category(classIndex: 25, id: 28, name: "umbrella"),
        Category(classIndex: 26, id: 31, name: "handbag"),
        Category(classIndex: 27, id: 32, name: "tie"),
        Category(classIndex: 28, id: 33, name: "suitcase"),
        Category(classIndex: 29, id: 34, name: "frisbee"),
        Category(classIndex: 30, id: 35, name: "skis"),
        Category(classIndex: 31, id: 36, name: "snowboard"),
        Category(classIndex: 32, id: 37, name: "sports ball"),
        Category(classIndex: 33, id: 38, name: "kite"),
        Category(classIndex: 34, id: 39, name: "baseball bat"),
        Category(classIndex: 35, id: 40, name: "baseball glove"),
        Category(classIndex: 36, id: 41, name: "skateboard"),
        Category(classIndex: 37, id: 42, name: "surfboard"),
        Category(classIndex: 38, id: 43, name: "tennis racket"),
        Category(classIndex: 39, id: 44, name: "bottle"),
        Category(classIndex: 40, id: 46, name: "wine glass"),
        Category(classIndex: 41, id: 47, name: "cup"),
        Category(classIndex: 42, id: 48, name: "fork"),
        Category(classIndex: 43, id: 49, name: "knife"),
        Category(classIndex: 44, id: 50, name: "spoon"),
        Category(classIndex: 45, id: 51, name: "bowl"),
        Category(classIndex: 46, id: 52, name: "banana"),
        Category(classIndex: 47, id: 53, name: "apple"),
        Category(classIndex: 48, id: 54, name: "sandwich"),
        Category(classIndex: 49, id: 55, name: "orange"),
        Category(classIndex: 50, id: 56, name: "broccoli"),
        Category(classIndex: 51, id: 57, name: "carrot"),
        Category(classIndex: 52, id: 58, name: "hot dog"),
        Category(classIndex: 53, id: 59, name: "pizza"),
        Category(classIndex: 54, id: 60, name: "donut"),
        Category(classIndex: 55, id: 61, name: "cake"),
        Category(classIndex: 56, id: 62, name: "chair"),
        Category(classIndex: 57, id: 63, name: "couch"),
        Category(classIndex: 58, id: 64, name: "potted plant"),
        Category(classIndex: 59, id: 65, name: "bed"),
        Category(classIndex: 60, id: 67, name: "dining table"),
        Category(classIndex: 61, id: 70, name: "toilet"),
        Category(classIndex: 62, id: 72, name: "tv"),
        Category(classIndex: 63, id: 73, name: "laptop"),
        Category(classIndex: 64, id: 74, name: "mouse"),
        Category(classIndex: 65, id: 75, name: "remote"),
        Category(classIndex: 66, id: 76, name: "keyboard"),
        Category(classIndex: 67, id: 77, name: "cell phone"),
        Category(classIndex: 68, id: 78, name: "microwave"),
        Category(classIndex: 69, id: 79, name: "oven"),
        Category(classIndex: 70, id: 80, name: "toaster"),
        Category(classIndex: 71, id: 81, name: "sink"),
        Category(classIndex: 72, id: 82, name: "refrigerator"),
        Category(classIndex: 73, id: 84, name: "book"),
        Category(classIndex: 74, id: 85, name: "clock"),
        Category(classIndex: 75, id: 86, name: "vase"),
        Category(classIndex: 76, id: 87, name: "scissors"),
        Category(classIndex: 77, id: 88, name: "teddy bear"),
        Category(classIndex: 78, id: 89, name: "hair drier"),
        Category(classIndex: 79, id: 90, name: "toothbrush"),
    ]

    private static let indexByID: [Int: Int] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0.classIndex) })

    /// The COCO category id of class `index`, nil outside 0…79.
    public static func categoryID(forClassIndex index: Int) -> Int? {
        all.indices.contains(index) ? all[index].id : nil
    }

    /// The COCO name of class `index`, nil outside 0…79.
    public static func name(forClassIndex index: Int) -> String? {
        all.indices.contains(index) ? all[index].name : nil
    }

    /// The class index of COCO category `id`, nil for ids COCO does not use (12, 26, 29, …).
    public static func classIndex(forCategoryID id: Int) -> Int? {
        indexByID[id]
    }
}
