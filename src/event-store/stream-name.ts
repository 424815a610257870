/**
 * Stream ids follow the `category-id` convention: the category is everything before the
 * first `-` (`post-42` is in category `post`, `order-2024-7` in `order`). A stream id
 * without a `-` is its own category.
 *
 * @example
 * ```ts
 * categoryOf('post-42'); // 'post'
 * ```
 */
export function categoryOf(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash > 0 ? streamId.slice(0, dash) : streamId;
}
