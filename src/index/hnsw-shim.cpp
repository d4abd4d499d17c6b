/* The HNSW index behind vector-index.h: hnswlib behind an extern "C" wall no exception crosses. */
#include "index/hnsw-shim.h"

#include <glib/gi18n.h>

#include <cinttypes>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_set>
#include <vector>

/* hnswlib defines non-inline functions: this must stay the only file including it. */
#include <cinttypes>
#include <hnswlib/hnswlib.h>

#include "common/errors.h"

namespace
{

using Graph = hnswlib::HierarchicalNSW<float>;
using hnswlib::labeltype;
using hnswlib::linklistsizeint;
using hnswlib::tableint;

/* Links per node (twice that on the bottom layer): hnswlib's usual value; more buys
 * little recall at 384 dimensions and costs memory on every vector. */
constexpr size_t LINKS = 16;
/* Candidates examined while linking a new vector; insertion time grows linearly with it.
 * At 100,000 builtin vectors, 64 keeps recall@10 at 0.995 (128: 0.997) and inserts twice
 * as fast (bench-vectors). */
constexpr size_t EF_CONSTRUCTION = 64;
/* Candidates examined per search (at least k): recall@10 0.95 at 100,000 text vectors
 * (bench-vectors), well under a millisecond. */
constexpr size_t EF_SEARCH = 160;
constexpr size_t MIN_CAPACITY = 1024;
/* Levels are drawn with P(level ≥ l) = LINKS^-l: 32 is never reached by honest files. */
constexpr int MAX_LEVEL = 32;
constexpr size_t RANDOM_SEED = 100;

/* What hnswlib's saveIndex() writes before the level-0 block, in this order. */
struct Head {
  size_t offset_level0;
  size_t max_elements;
  size_t count;
  size_t size_per_element;
  size_t label_offset;
  size_t offset_data;
  int max_level;
  tableint enter_point;
  size_t max_m;
  size_t max_m0;
  size_t m;
  double mult;
  size_t ef_construction;
};

} // namespace

struct SrVectorIndex {
  guint dimensions;
  std::mutex lock; /* hnswlib's searches bump shared counters and resizing moves memory */
  std::unique_ptr<hnswlib::InnerProductSpace> space; /* declared first: outlives graph */
  std::unique_ptr<Graph> graph;
  std::unordered_set<tableint> free_slots; /* removed vectors whose slots can be reused */
};

static void
set_failure (GError **error, const char *what)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED, _ ("Vector index failure: %s"), what);
}

/* Every entry point runs its body through here, so no C++ exception reaches C. */
template <typename Body>
static bool
guarded (GError **error, Body body)
{
  try {
    body ();
    return true;
  } catch (const std::bad_alloc &) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
                         _ ("Not enough memory for the vector index"));
  } catch (const std::exception &e) {
    set_failure (error, e.what ());
  } catch (...) {
    set_failure (error, "unknown exception");
  }
  return false;
}

static bool
all_finite (const float *vector, guint dimensions)
{
  for (guint i = 0; i < dimensions; i++)
    if (!std::isfinite (vector[i]))
      return false;
  return true;
}

static SrVectorIndex *
index_new (guint dimensions, size_t capacity)
{
  auto index = std::make_unique<SrVectorIndex> ();
  index->dimensions = dimensions;
  index->space = std::make_unique<hnswlib::InnerProductSpace> (dimensions);
  index->graph = std::make_unique<Graph> (index->space.get (), std::max (capacity, MIN_CAPACITY),
                                          LINKS, EF_CONSTRUCTION, RANDOM_SEED);
  index->graph->setEf (EF_SEARCH);
  return index.release ();
}

extern "C" SrVectorIndex *
sr_vector_index_new (guint dimensions, guint64 capacity, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (dimensions == 0) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("A vector index needs at least one dimension"));
    return NULL;
  }
  SrVectorIndex *index = NULL;
  guarded (error, [&] { index = index_new (dimensions, capacity); });
  return index;
}

extern "C" void
sr_vector_index_free (SrVectorIndex *index)
{
  delete index;
}

static void
grow_if_full (Graph &graph)
{
  if (graph.cur_element_count < graph.max_elements_)
    return;
  /* Half again, so that a million vectors do not need twice their memory while copying. */
  size_t more = std::max (graph.max_elements_ / 2, MIN_CAPACITY);
  graph.resizeIndex (graph.max_elements_ + more);
}

/* The free slot of a removed vector, if one is left; hnswlib 0.6 cannot reuse them itself. */
static bool
take_free_slot (SrVectorIndex *index, tableint *slot)
{
  if (index->free_slots.empty ())
    return false;
  auto it = index->free_slots.begin ();
  *slot = *it;
  index->free_slots.erase (it);
  return true;
}

/* As newer hnswlib's addPoint (replace_deleted = true): relabel the slot, then let
 * updatePoint() relink it where the new vector belongs. */
static void
reuse_slot (Graph &graph, tableint slot, labeltype label, const float *vector)
{
  labeltype old = graph.getExternalLabel (slot);
  graph.label_lookup_.erase (old);
  graph.setExternalLabel (slot, label);
  graph.label_lookup_[label] = slot;
  graph.unmarkDeletedInternal (slot);
  graph.updatePoint (vector, slot, 1.0f);
}

static void
add_locked (SrVectorIndex *index, guint64 label, const float *vector)
{
  Graph &graph = *index->graph;
  auto found = graph.label_lookup_.find (label);
  tableint slot;

  if (found != graph.label_lookup_.end ()) {
    /* A known label, removed or not: addPoint() updates it in place (and undeletes it). */
    index->free_slots.erase (found->second);
    graph.addPoint (vector, label);
    return;
  }
  if (take_free_slot (index, &slot)) {
    reuse_slot (graph, slot, label, vector);
    return;
  }
  grow_if_full (graph);
  graph.addPoint (vector, label);
}

extern "C" gboolean
sr_vector_index_add (SrVectorIndex *index, guint64 label, const float *vector, GError **error)
{
  g_return_val_if_fail (index != NULL && vector != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (!all_finite (vector, index->dimensions)) {
    g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                 _ ("The vector for chunk %" PRIu64 " holds a value that is not a "
                    "finite number; the embedder is faulty"),
                 (uint64_t) label);
    return FALSE;
  }
  return guarded (error, [&] {
    std::lock_guard<std::mutex> hold (index->lock);
    add_locked (index, label, vector);
  });
}

extern "C" gboolean
sr_vector_index_remove (SrVectorIndex *index, guint64 label, GError **error)
{
  g_return_val_if_fail (index != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return guarded (error, [&] {
    std::lock_guard<std::mutex> hold (index->lock);
    Graph &graph = *index->graph;
    auto found = graph.label_lookup_.find (label);
    /* Already gone is fine: removal must be repeatable while catching up after a crash. */
    if (found == graph.label_lookup_.end () || graph.isMarkedDeleted (found->second))
      return;
    graph.markDeletedInternal (found->second);
    index->free_slots.insert (found->second);
  });
}

extern "C" guint64
sr_vector_index_count (SrVectorIndex *index)
{
  g_return_val_if_fail (index != NULL, 0);
  std::lock_guard<std::mutex> hold (index->lock);
  return index->graph->cur_element_count - index->graph->num_deleted_;
}

extern "C" GArray *
sr_vector_index_labels (SrVectorIndex *index)
{
  g_return_val_if_fail (index != NULL, NULL);
  GArray *labels = g_array_new (FALSE, FALSE, sizeof (guint64));
  std::lock_guard<std::mutex> hold (index->lock);
  const Graph &graph = *index->graph;
  g_array_set_size (labels, graph.label_lookup_.size ());
  guint n = 0;
  for (const auto &entry : graph.label_lookup_)
    if (!graph.isMarkedDeleted (entry.second))
      g_array_index (labels, guint64, n++) = entry.first;
  g_array_set_size (labels, n);
  return labels;
}

extern "C" guint
sr_vector_index_dimensions (SrVectorIndex *index)
{
  g_return_val_if_fail (index != NULL, 0);
  return index->dimensions;
}

extern "C" guint64
sr_vector_index_slots (SrVectorIndex *index)
{
  g_return_val_if_fail (index != NULL, 0);
  std::lock_guard<std::mutex> hold (index->lock);
  return index->graph->cur_element_count;
}

extern "C" guint64
sr_vector_index_memory (SrVectorIndex *index)
{
  g_return_val_if_fail (index != NULL, 0);
  std::lock_guard<std::mutex> hold (index->lock);
  const Graph &graph = *index->graph;
  /* Per reserved slot: level-0 links, vector and label; its upper-layer pointer, level and
   * lock; one visited-list mark. */
  guint64 bytes = (guint64) graph.max_elements_
                  * (graph.size_data_per_element_ + sizeof (char *) + sizeof (int)
                     + sizeof (std::mutex) + sizeof (unsigned short));
  for (size_t i = 0; i < graph.cur_element_count; i++)
    if (graph.element_levels_[i] > 0)
      bytes += graph.size_links_per_element_ * (size_t) graph.element_levels_[i];
  bytes += graph.link_list_update_locks_.size () * sizeof (std::mutex);
  /* The label map: a node (next pointer, key, value, cached hash) per label, a bucket each. */
  bytes += graph.label_lookup_.size () * (4 * sizeof (void *))
           + graph.label_lookup_.bucket_count () * sizeof (void *);
  bytes += index->free_slots.size () * (3 * sizeof (void *));
  return bytes;
}

static guint
search_locked (SrVectorIndex *index, const float *query, guint k, guint64 *labels, float *distances)
{
  auto found = index->graph->searchKnn (query, k);
  guint n = (guint) found.size ();
  /* The queue pops the farthest first. */
  for (guint i = n; i > 0; i--) {
    labels[i - 1] = found.top ().second;
    if (distances != NULL)
      distances[i - 1] = found.top ().first;
    found.pop ();
  }
  return n;
}

extern "C" guint
sr_vector_index_search (SrVectorIndex *index, const float *query, guint k, guint64 *labels,
                        float *distances, GError **error)
{
  g_return_val_if_fail (index != NULL && query != NULL, 0);
  g_return_val_if_fail (k == 0 || labels != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);
  if (k == 0)
    return 0;
  if (!all_finite (query, index->dimensions)) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("The query vector holds a value that is not a finite number"));
    return 0;
  }
  guint n = 0;
  guarded (error, [&] {
    std::lock_guard<std::mutex> hold (index->lock);
    n = search_locked (index, query, k, labels, distances);
  });
  return n;
}

/* Saving */

static bool
write_pod (SrVectorIndexWriteFunc write, gpointer user_data, const void *data, gsize length,
           GError **error)
{
  return write (data, length, user_data, error);
}

static bool
write_locked (const Graph &graph, SrVectorIndexWriteFunc write, gpointer user_data, GError **error)
{
  /* hnswlib's own bytes, so that its loadIndex() can read our payload too. */
  Head head = { graph.offsetLevel0_,
                graph.max_elements_,
                graph.cur_element_count,
                graph.size_data_per_element_,
                graph.label_offset_,
                graph.offsetData_,
                graph.maxlevel_,
                graph.enterpoint_node_,
                graph.maxM_,
                graph.maxM0_,
                graph.M_,
                graph.mult_,
                graph.ef_construction_ };
#define PUT(field) write_pod (write, user_data, &head.field, sizeof head.field, error)
  if (!(PUT (offset_level0) && PUT (max_elements) && PUT (count) && PUT (size_per_element)
        && PUT (label_offset) && PUT (offset_data) && PUT (max_level) && PUT (enter_point)
        && PUT (max_m) && PUT (max_m0) && PUT (m) && PUT (mult) && PUT (ef_construction)))
    return false;
#undef PUT
  if (!write (graph.data_level0_memory_, graph.cur_element_count * graph.size_data_per_element_,
              user_data, error))
    return false;
  for (size_t i = 0; i < graph.cur_element_count; i++) {
    unsigned int size
        = graph.element_levels_[i] > 0
              ? (unsigned int) (graph.size_links_per_element_ * (size_t) graph.element_levels_[i])
              : 0;
    if (!write_pod (write, user_data, &size, sizeof size, error))
      return false;
    if (size > 0 && !write (graph.linkLists_[i], size, user_data, error))
      return false;
  }
  return true;
}

extern "C" gboolean
sr_vector_index_write_payload (SrVectorIndex *index, SrVectorIndexWriteFunc write,
                               gpointer user_data, guint64 *live, guint64 *slots, GError **error)
{
  g_return_val_if_fail (index != NULL && write != NULL, FALSE);
  bool written = false;
  bool ran = guarded (error, [&] {
    std::lock_guard<std::mutex> hold (index->lock);
    written = write_locked (*index->graph, write, user_data, error);
    *live = index->graph->cur_element_count - index->graph->num_deleted_;
    *slots = index->graph->cur_element_count;
  });
  return ran && written;
}

/* Loading: everything is checked against the bytes before hnswlib sees any of it. */

namespace
{

struct Reader {
  const guint8 *data;
  gsize length;
  gsize offset;

  template <typename T> bool pod (T *out)
  {
    if (length - offset < sizeof (T))
      return false;
    memcpy (out, data + offset, sizeof (T));
    offset += sizeof (T);
    return true;
  }

  const guint8 *bytes (gsize n)
  {
    if (length - offset < n)
      return nullptr;
    const guint8 *at = data + offset;
    offset += n;
    return at;
  }
};

struct Layout {
  size_t count;
  int max_level;
  tableint enter_point;
  const guint8 *level0;
  std::vector<int> levels;
  std::vector<const guint8 *> upper; /* each element's upper-layer links, or null */
};

} // namespace

static bool
damaged (GError **error, const char *why)
{
  g_set_error (error, SMARTRAG_ERROR, SMARTRAG_ERROR_FAILED,
               _ ("The vector index data is damaged (%s); it will have to be rebuilt"), why);
  return false;
}

static bool
read_head (Reader &r, guint dimensions, Head *h, GError **error)
{
  if (!(r.pod (&h->offset_level0) && r.pod (&h->max_elements) && r.pod (&h->count)
        && r.pod (&h->size_per_element) && r.pod (&h->label_offset) && r.pod (&h->offset_data)
        && r.pod (&h->max_level) && r.pod (&h->enter_point) && r.pod (&h->max_m)
        && r.pod (&h->max_m0) && r.pod (&h->m) && r.pod (&h->mult) && r.pod (&h->ef_construction)))
    return damaged (error, _ ("short header"));
  size_t links0 = 2 * LINKS * sizeof (tableint) + sizeof (linklistsizeint);
  size_t vector = (size_t) dimensions * sizeof (float);
  if (h->offset_level0 != 0 || h->m != LINKS || h->max_m != LINKS || h->max_m0 != 2 * LINKS
      || h->offset_data != links0 || h->label_offset != links0 + vector
      || h->size_per_element != links0 + vector + sizeof (labeltype))
    return damaged (error, _ ("layout differs from this build's"));
  if (h->count == 0 ? h->max_level != -1 : (h->max_level < 0 || h->max_level > MAX_LEVEL))
    return damaged (error, _ ("impossible top level"));
  if (h->count > 0 && h->enter_point >= h->count)
    return damaged (error, _ ("entry point out of range"));
  if (h->count > (r.length - r.offset) / h->size_per_element)
    return damaged (error, _ ("more vectors than bytes"));
  return true;
}

static bool
read_upper_layers (Reader &r, const Head &h, Layout *layout, GError **error)
{
  size_t per_level = LINKS * sizeof (tableint) + sizeof (linklistsizeint);
  layout->levels.assign (h.count, 0);
  layout->upper.assign (h.count, nullptr);
  for (size_t i = 0; i < h.count; i++) {
    unsigned int size;
    if (!r.pod (&size))
      return damaged (error, _ ("truncated links"));
    if (size % per_level != 0 || size / per_level > (size_t) h.max_level)
      return damaged (error, _ ("bad link list size"));
    layout->levels[i] = (int) (size / per_level);
    if (size > 0 && (layout->upper[i] = r.bytes (size)) == nullptr)
      return damaged (error, _ ("truncated links"));
  }
  if (r.offset != r.length)
    return damaged (error, _ ("trailing bytes"));
  if (h.count > 0 && layout->levels[h.enter_point] != h.max_level)
    return damaged (error, _ ("entry point not on the top level"));
  return true;
}

/* A link list is a 16-bit count, a flags byte, a zero byte and then the neighbours. */
static bool
links_valid (const guint8 *list, size_t max_links, int level, const Layout &layout)
{
  guint16 n;
  memcpy (&n, list, sizeof n);
  if (n > max_links || (list[2] & ~Graph::DELETE_MARK) != 0 || list[3] != 0)
    return false;
  for (guint16 j = 0; j < n; j++) {
    tableint neighbour;
    memcpy (&neighbour, list + sizeof (linklistsizeint) + j * sizeof (tableint), sizeof neighbour);
    /* A neighbour must exist on this level, or searching would read past its links. */
    if (neighbour >= layout.count || layout.levels[neighbour] < level)
      return false;
  }
  return true;
}

static bool
check_links (const Head &h, const Layout &layout, GError **error)
{
  size_t per_level = LINKS * sizeof (tableint) + sizeof (linklistsizeint);
  for (size_t i = 0; i < h.count; i++) {
    const guint8 *level0 = layout.level0 + i * h.size_per_element;
    if (!links_valid (level0, 2 * LINKS, 0, layout))
      return damaged (error, _ ("bad bottom-layer links"));
    for (int l = 1; l <= layout.levels[i]; l++) {
      const guint8 *list = layout.upper[i] + (size_t) (l - 1) * per_level;
      if (!links_valid (list, LINKS, l, layout))
        return damaged (error, _ ("bad upper-layer links"));
    }
  }
  return true;
}

static void
fill (SrVectorIndex *index, const Head &h, const Layout &layout)
{
  Graph &graph = *index->graph;
  memcpy (graph.data_level0_memory_, layout.level0, h.count * h.size_per_element);
  for (size_t i = 0; i < h.count; i++) {
    graph.linkLists_[i] = nullptr;
    if (layout.levels[i] > 0) {
      size_t size = graph.size_links_per_element_ * (size_t) layout.levels[i];
      graph.linkLists_[i] = (char *) malloc (size);
      if (graph.linkLists_[i] == nullptr)
        throw std::bad_alloc ();
      memcpy (graph.linkLists_[i], layout.upper[i], size);
    }
    /* Counted one by one, so that the destructor frees exactly what exists so far. */
    graph.element_levels_[i] = layout.levels[i];
    graph.cur_element_count = i + 1;
    graph.label_lookup_[graph.getExternalLabel ((tableint) i)] = (tableint) i;
    if (graph.isMarkedDeleted ((tableint) i)) {
      graph.num_deleted_++;
      index->free_slots.insert ((tableint) i);
    }
  }
  graph.maxlevel_ = h.max_level;
  graph.enterpoint_node_ = h.enter_point;
}

static SrVectorIndex *
read_locked (guint dimensions, const guint8 *data, gsize length, GError **error)
{
  Reader r = { data, length, 0 };
  Head h{};
  Layout layout{};

  if (!read_head (r, dimensions, &h, error))
    return NULL;
  layout.count = h.count;
  layout.max_level = h.max_level;
  layout.enter_point = h.enter_point;
  layout.level0 = r.bytes (h.count * h.size_per_element);
  if (!read_upper_layers (r, h, &layout, error) || !check_links (h, layout, error))
    return NULL;

  std::unique_ptr<SrVectorIndex> index (index_new (dimensions, h.count));
  fill (index.get (), h, layout);
  if (index->graph->label_lookup_.size () != h.count) {
    damaged (error, _ ("a label appears twice"));
    return NULL;
  }
  return index.release ();
}

extern "C" SrVectorIndex *
sr_vector_index_read_payload (guint dimensions, const guint8 *data, gsize length, GError **error)
{
  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (dimensions == 0) {
    g_set_error_literal (error, SMARTRAG_ERROR, SMARTRAG_ERROR_INVALID_ARGS,
                         _ ("A vector index needs at least one dimension"));
    return NULL;
  }
  SrVectorIndex *index = NULL;
  guarded (error, [&] { index = read_locked (dimensions, data, length, error); });
  return index;
}
