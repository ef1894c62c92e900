"""Speech Commands v2 vocabulary and layout names, shared by the corpus maker and the loader."""

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
WORDS = (
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward",
    "four", "go", "happy", "house", "learn", "left", "marvin", "nine", "no", "off", "on",
    "one", "right", "seven", "sheila", "six", "stop", "three", "tree", "two", "up", "visual",
    "wow", "yes", "zero",
)
NOISE_DIR = "_background_noise_"
VALIDATION_LIST = "validation_list.txt"
TESTING_LIST = "testing_list.txt"
