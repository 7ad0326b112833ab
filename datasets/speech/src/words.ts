/** The texts of the two tasks. */

/** The digit words, index = digit. Transcripts use these spellings. */
export const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] as const;

/**
 * 200 common English words (nouns, verbs, adjectives, colours, a few others), lower case, letters
 * only. Chosen so that each spoken form has one spelling: no two words of the list are homophones
 * (only one of buy/by, plane/plain, flower/flour ...), no heteronyms whose pronunciation depends
 * on use (read, live, close, minute, present, record, lead, wind, tear, use), and no digit words
 * or their homophones (to, too, for, won, ate), so that the two tasks never share a spoken word.
 */
export const WORDS: readonly string[] = Object.freeze([
  'time', 'year', 'people', 'day', 'man', 'woman', 'child', 'world', 'school', 'family', 'student',
  'group', 'country', 'problem', 'hand', 'place', 'week', 'company', 'system', 'question',
  'government', 'night', 'home', 'water', 'room', 'mother', 'father', 'money', 'story', 'month',
  'book', 'job', 'word', 'business', 'house', 'friend', 'power', 'game', 'city', 'name', 'team',
  'idea', 'body', 'face', 'door', 'car', 'food', 'music', 'street', 'morning', 'tree', 'garden',
  'table', 'window', 'paper', 'picture', 'letter', 'doctor', 'teacher', 'animal', 'river', 'mountain',
  'island', 'ocean', 'weather', 'summer', 'winter', 'apple', 'orange', 'bread', 'coffee', 'milk',
  'chicken', 'horse', 'bird', 'fish', 'flower', 'color', 'language', 'history', 'science', 'market',
  'office', 'hospital', 'kitchen', 'bottle', 'pocket', 'computer', 'phone', 'camera', 'train',
  'plane', 'bicycle', 'ticket', 'village', 'forest', 'bridge', 'shoe', 'hat', 'shirt', 'clock', 'key',
  'box', 'bed', 'chair', 'go', 'come', 'make', 'take', 'give', 'find', 'think', 'tell', 'ask', 'work',
  'need', 'feel', 'leave', 'begin', 'help', 'talk', 'turn', 'start', 'show', 'play', 'run', 'move',
  'bring', 'stand', 'sit', 'speak', 'learn', 'change', 'stop', 'open', 'walk', 'win', 'remember',
  'love', 'buy', 'eat', 'drink', 'sleep', 'sing', 'dance', 'jump', 'swim', 'laugh', 'travel', 'good',
  'new', 'old', 'big', 'small', 'young', 'important', 'bad', 'different', 'hot', 'cold', 'happy',
  'sad', 'fast', 'slow', 'warm', 'soft', 'hard', 'quiet', 'loud', 'bright', 'dark', 'clean', 'empty',
  'full', 'heavy', 'light', 'strong', 'sweet', 'green', 'blue', 'yellow', 'purple', 'brown', 'black',
  'white', 'red', 'yes', 'please', 'thank', 'hello', 'today', 'tomorrow', 'always', 'never', 'again',
  'together', 'nothing', 'everything', 'everyone', 'something',
]);
